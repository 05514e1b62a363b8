"""Reading any photo into what a model needs, and writing the result back like the original.

A photo is read upright (its EXIF orientation applied), as float32 gray (H, W) or RGB
(H, W, 3) in [0, 1]: palette images become RGB (RGBA when they have a transparent
colour), CMYK and other colour spaces RGB; 16-bit colour PNG and TIFF are read at 16 bits
(Pillow holds no 16-bit RGB: OpenCV decodes the PNG, tifffile the TIFF), and so is
16-bit gray with alpha (which Pillow would turn into 8-bit RGBA). Its alpha
channel is kept as stored and written back untouched (bit for bit when the output has the
input's bit depth; otherwise scaled exactly, x257, or rounded, /257), and its embedded ICC
profile is carried into the output (unless the pixels were converted out of the space it
describes, CMYK or Lab). Its size is checked against a pixel budget from the header,
before anything is decoded.
"""

from __future__ import annotations

import contextlib
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from registry.errors import RegistryError
from registry.limits import DEFAULT_MAX_PIXELS

BUDGET_HINT = "raise it with --max-pixels N or `registry config set max-pixels N`"
ORIENTATION_TAG = 0x0112
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GRAY_ALPHA_16, COLOUR_16 = "gray+alpha 16", "colour 16"  # 16-bit layouts Pillow would truncate
SIXTEEN_BIT_GRAY = {"I;16", "I;16B", "I;16L", "I"}
TO_RGB = {
    "P": "RGB",
    "PA": "RGBA",
    "RGBa": "RGBA",
    "RGBX": "RGB",
    "CMYK": "RGB",
    "YCbCr": "RGB",
    "LAB": "RGB",
    "HSV": "RGB",
}
PROFILE_LOST = {"CMYK", "LAB"}  # their ICC profile describes a space the RGB pixels are no longer in


@dataclass
class Photo:
    pixels: np.ndarray  # float32 (H, W) gray or (H, W, 3) RGB in [0, 1], upright
    alpha: np.ndarray | None  # (H, W) uint8 or uint16 as stored, upright
    icc_profile: bytes | None  # the embedded ICC profile, carried into the output
    bits: int  # 8 or 16: the depth the pixels were read at
    mode: str  # the file's mode (Pillow's name; "RGB;16", "RGBA;16" when read at 16 bits)
    orientation: int  # the EXIF orientation applied (1: none)

    @property
    def channels(self) -> int:
        return 1 if self.pixels.ndim == 2 else 3

    def describe(self) -> dict[str, Any]:
        """What a manifest records of the input's form."""
        return {
            "mode": self.mode,
            "channels": self.channels,
            "bits": self.bits,
            "alpha": self.alpha is not None,
            "icc_profile": self.icc_profile is not None,
            "exif_orientation": self.orientation,
        }


def check_budget(width: int, height: int, max_pixels: int, shown: Path) -> None:
    if width * height > max_pixels:
        raise RegistryError(
            f"{shown}: {width}x{height} is {width * height / 1e6:.1f} megapixels, over the pixel budget of "
            f"{max_pixels / 1e6:g} megapixels; {BUDGET_HINT}"
        )


def check_readable_image(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS, shown: Path | None = None) -> None:
    """A one-line RegistryError when `path` is not an image we can open within the pixel budget
    (its header only: a decompression bomb is refused before anything is decoded). A damaged
    ancillary PNG chunk, such as an edited C2PA manifest, is not a reason: verification names it."""
    shown = shown or path
    with _opened(path, shown, skip_damaged_ancillary=True) as image:
        check_budget(image.width, image.height, max_pixels, shown)


def read_photo(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS, shown: Path | None = None) -> Photo:
    """Decode `path` (a one-line RegistryError naming `shown` when it cannot be used)."""
    shown = shown or path
    with _opened(path, shown) as image:
        check_budget(image.width, image.height, max_pixels, shown)
        icc = image.info.get("icc_profile") or None
        try:
            orientation = _orientation(image)
            kind = _beyond_pillow(image, path)
            if kind == GRAY_ALPHA_16:
                raw, mode = _decode_png_16(path)[..., [0, 3]], "LA;16"  # OpenCV gives it as BGRA
            elif kind:
                raw = _read_sixteen_bit_colour(path, image.format)
                mode = "RGBA;16" if raw.shape[-1] == 4 else "RGB;16"
            else:
                raw, mode = _read_with_pillow(image)
        except (OSError, SyntaxError, ValueError) as exc:
            raise RegistryError(f"unreadable image {shown}: {exc}") from None
    if mode in PROFILE_LOST:
        icc = None
    raw = orient(raw, orientation)
    colour = raw.ndim == 3 and raw.shape[-1] >= 3
    has_alpha = raw.ndim == 3 and raw.shape[-1] in (2, 4)
    values = raw[..., :3] if colour else raw[..., 0] if raw.ndim == 3 else raw
    pixels = values.astype(np.float32)  # one float32 copy, never float64
    pixels *= np.float32(1.0 / (65535.0 if raw.dtype == np.uint16 else 255.0))
    alpha = np.ascontiguousarray(raw[..., -1]) if has_alpha else None
    return Photo(pixels, alpha, icc, 16 if raw.dtype == np.uint16 else 8, mode, orientation)


@contextlib.contextmanager
def _opened(path: Path, shown: Path, skip_damaged_ancillary: bool = False) -> Iterator[Image.Image]:
    """The file opened (its header read, nothing decoded); our pixel budget replaces Pillow's bomb check.
    `skip_damaged_ancillary`: Pillow skips the CRC of optional chunks (only header reads use it)."""
    limit, lenient = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    Image.MAX_IMAGE_PIXELS = None
    ImageFile.LOAD_TRUNCATED_IMAGES = skip_damaged_ancillary
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except FileNotFoundError:
        raise RegistryError(f"image not found: {shown}") from None
    except UnidentifiedImageError:
        raise RegistryError(f"not an image: {shown}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise RegistryError(f"unreadable image {shown}: {exc}") from None
    finally:
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = limit, lenient
    with image:
        if getattr(image, "n_frames", 1) > 1:
            raise RegistryError(f"multi-frame images are not supported: {shown}")
        yield image


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1-8; 1 when absent or not a valid value)."""
    value = image.getexif().get(ORIENTATION_TAG, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _beyond_pillow(image: Image.Image, path: Path) -> str | None:
    """Which 16-bit layout Pillow would truncate to 8 bits (None: Pillow reads it as it is)."""
    if image.format == "PNG":
        with open(path, "rb") as handle:
            header = handle.read(26)  # signature, IHDR length and type, width, height, depth, colour type
        if header[24] != 16:
            return None
        return COLOUR_16 if header[25] in (2, 6) else GRAY_ALPHA_16 if header[25] == 4 else None
    if image.format == "TIFF":
        bits = image.tag_v2.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        return COLOUR_16 if max(bits) == 16 and image.tag_v2.get(277, 1) >= 3 else None
    return None


def _read_sixteen_bit_colour(path: Path, format: str) -> np.ndarray:
    """(H, W, 3 or 4) uint16 RGB(A)."""
    if format == "TIFF":
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            raw = page.asarray()
            if page.axes.startswith("S"):  # planar: one plane per sample
                raw = np.moveaxis(raw, 0, -1)
    else:
        raw = _decode_png_16(path)
        raw = raw[..., [2, 1, 0, 3][: raw.shape[-1]]]  # BGR(A) -> RGB(A)
    if raw.dtype != np.uint16 or raw.ndim != 3 or raw.shape[-1] not in (3, 4):
        raise ValueError(f"expected 16-bit RGB or RGBA samples, found {raw.dtype} {raw.shape}")
    return raw


def _decode_png_16(path: Path) -> np.ndarray:
    """A 16-bit PNG as OpenCV decodes it: BGR or BGRA uint16 (gray with alpha comes as BGRA)."""
    import cv2  # imported here: only 16-bit PNGs need it

    # IMREAD_UNCHANGED keeps 16 bits and alpha and ignores orientation (applied like every other path).
    raw = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ValueError("OpenCV cannot decode it")
    return raw


def _read_with_pillow(image: Image.Image) -> tuple[np.ndarray, str]:
    """(H, W) or (H, W, 2|3|4) uint8, or (H, W) uint16 for 16-bit gray; and the file's mode."""
    mode = image.mode
    image.load()
    if mode in SIXTEEN_BIT_GRAY:
        return np.clip(np.asarray(image), 0, 65535).astype(np.uint16), mode
    if mode == "P" and "transparency" in image.info:
        return np.asarray(image.convert("RGBA")), mode
    if mode in TO_RGB:
        return np.asarray(image.convert(TO_RGB[mode])), mode
    if mode in ("1", "F", "La"):
        return np.asarray(image.convert("LA" if mode == "La" else "L")), mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return np.asarray(image), mode
    raise ValueError(f"unsupported image mode {mode}")


def orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) as Pillow's ImageOps.exif_transpose does; returns a view."""
    transforms = {
        2: lambda a: a[:, ::-1],  # mirrored left-right
        3: lambda a: a[::-1, ::-1],  # rotated 180
        4: lambda a: a[::-1],  # mirrored top-bottom
        5: lambda a: a.swapaxes(0, 1),  # transposed
        6: lambda a: a[::-1].swapaxes(0, 1),  # rotated 90 clockwise to be upright
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),  # transversed
        8: lambda a: a[:, ::-1].swapaxes(0, 1),  # rotated 90 anticlockwise to be upright
    }
    return transforms[orientation](pixels) if orientation in transforms else pixels


def output_problem(alpha: bool, format: str) -> str | None:
    """Why an output of this form cannot be written (None when it can): checked before anything is."""
    if alpha and format == "jpeg":
        return "JPEG has no alpha channel; use --format png to keep it"
    return None


def write_photo(
    pixels: np.ndarray,
    path: Path,
    bits: int,
    format: str = "png",
    alpha: np.ndarray | None = None,
    icc_profile: bytes | None = None,
) -> None:
    """Save float (H, W) or (H, W, 3) pixels (clipped to [0, 1]; quantised in place) with alpha and profile."""
    values = quantize(pixels, bits)
    if alpha is not None:
        values = np.dstack([values, _rescale(alpha, values.dtype)])
    extra = {"icc_profile": icc_profile} if icc_profile else {}
    if bits == 16 and values.ndim == 3 and values.shape[-1] == 2:  # 16-bit gray+alpha: neither can hold it
        path.write_bytes(_with_icc_chunk(_gray_alpha_png(values), icc_profile))
    elif bits == 16 and values.ndim == 3:  # 16-bit colour: Pillow cannot hold it, OpenCV writes it
        import cv2

        ok, encoded = cv2.imencode(".png", values[..., [2, 1, 0, 3][: values.shape[-1]]])
        if not ok:
            raise RegistryError(f"cannot encode {path.name} as a 16-bit PNG")
        path.write_bytes(_with_icc_chunk(encoded.tobytes(), icc_profile))
    elif format == "jpeg":
        Image.fromarray(values).save(path, format="JPEG", quality=95, **extra)
    else:
        Image.fromarray(values).save(path, format="PNG", **extra)


def quantize(pixels: np.ndarray, bits: int) -> np.ndarray:
    """uint8 or uint16 from float pixels, rounding; works in place on `pixels` (no float64 copy)."""
    scale = np.float32(255.0 if bits == 8 else 65535.0)
    np.clip(pixels, 0.0, 1.0, out=pixels)
    pixels *= scale
    np.rint(pixels, out=pixels)
    return pixels.astype(np.uint8 if bits == 8 else np.uint16)


def _rescale(alpha: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if alpha.dtype == dtype:
        return alpha  # untouched, bit for bit
    if dtype == np.uint16:
        return alpha.astype(np.uint16) * np.uint16(257)  # exact: 255 -> 65535
    return ((alpha.astype(np.uint32) + 128) // 257).astype(np.uint8)  # round(alpha / 257); 257 is odd: no ties


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _gray_alpha_png(values: np.ndarray) -> bytes:
    """(H, W, 2) uint16 as a PNG of colour type 4, depth 16 (rows unfiltered: filter byte 0)."""
    height, width, _ = values.shape
    rows = np.zeros((height, 1 + width * 4), dtype=np.uint8)
    rows[:, 1:] = values.astype(">u2").reshape(height, -1).view(np.uint8)  # big-endian samples, G then A
    header = struct.pack(">IIBBBBB", width, height, 16, 4, 0, 0, 0)
    pixels = _chunk(b"IDAT", zlib.compress(rows.tobytes()))
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + pixels + _chunk(b"IEND", b"")


def _with_icc_chunk(png: bytes, icc_profile: bytes | None) -> bytes:
    """Insert an iCCP chunk right after IHDR (where the PNG specification wants it)."""
    if not icc_profile:
        return png
    chunk = _chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile))  # name, NUL, method 0
    end_of_ihdr = 8 + 4 + 4 + 13 + 4  # signature, then IHDR's length, type, 13 data bytes, CRC
    return png[:end_of_ihdr] + chunk + png[end_of_ihdr:]
