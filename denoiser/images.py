"""Reading images as the float arrays the pipeline works on: gray (H, W) or RGB (H, W, 3).

A 1-channel model uses colour images as their 8-bit luminance (ITU-R 601-2 luma,
Pillow's `convert("L")`, integer arithmetic and therefore exact everywhere). A 3-channel
model uses them as 8-bit RGB (alpha dropped, palettes expanded) and refuses gray images:
replicating one channel three times would teach it nothing about colour. How each file
becomes the model's input is described by `ImageInfo.conversion` so that the registry
can record it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

LUMA_CONVERSION = "colour to 8-bit luminance: L = (299 R + 587 G + 114 B) / 1000 (ITU-R 601-2, Pillow convert('L'))"
RGB_CONVERSION = "converted to 8-bit RGB (Pillow convert('RGB'))"
_RGB_CONVERSION = {  # what a 3-channel model sees, by Pillow mode
    "RGB": "8-bit RGB as is",
    "RGBA": "8-bit RGB, alpha dropped",
    "P": "palette expanded to 8-bit RGB",
    "PA": "palette expanded to 8-bit RGB, alpha dropped",
}
SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I"}
GRAY_MODES = {"1", "L", "LA", "F", *SIXTEEN_BIT_MODES}  # one channel of picture (LA: plus alpha)
CHANNELS = (1, 3)  # gray, RGB


class ImageError(ValueError):
    """A file that is not a readable image."""


class ChannelError(ImageError):
    """A gray image where a 3-channel (RGB) model needs colour."""

    def __init__(self, path: Path, mode: str):
        super().__init__(f"{path} is a gray image (mode {mode}); a 3-channel model needs colour images")
        self.mode = mode


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    mode: str  # Pillow mode of the file, e.g. "L", "RGB", "I;16"
    conversion: str  # how it becomes a model's input ("" when a gray 8-bit image is used as is)


def inspect_image(path: Path) -> ImageInfo:
    """Open and fully decode an image, so truncated or corrupt files are caught here."""
    with _open(path) as image:
        return ImageInfo(image.width, image.height, image.mode, _conversion(image.mode))


def load_image(path: Path, channels: int) -> np.ndarray:
    """The image as float32 in [0, 1]: (H, W) for channels=1, (H, W, 3) RGB for channels=3."""
    if channels == 1:
        return load_gray(path)
    if channels != 3:
        raise ValueError(f"channels must be one of {CHANNELS}, got {channels}")
    with _open(path) as image:
        if image.mode in GRAY_MODES:
            raise ChannelError(path, image.mode)
        if image.mode != "RGB":  # RGBA drops alpha, P and PA expand their palette, CMYK/YCbCr convert
            image = image.convert("RGB")
        return np.asarray(image, dtype=np.float32) / np.float32(255.0)


def load_gray(path: Path) -> np.ndarray:
    """The image as float32 (H, W) in [0, 1]."""
    with _open(path) as image:
        if image.mode in SIXTEEN_BIT_MODES:
            return (np.asarray(image, dtype=np.float64) / 65535.0).astype(np.float32)
        if image.mode != "L":
            image = image.convert("L")
        return np.asarray(image, dtype=np.float32) / np.float32(255.0)


def _open(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
    except FileNotFoundError:
        raise ImageError(f"image not found: {path}") from None
    except UnidentifiedImageError:
        raise ImageError(f"not an image: {path}") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"unreadable image {path}: {exc}") from None
    if getattr(image, "n_frames", 1) > 1:
        image.close()
        raise ImageError(f"multi-frame images are not supported: {path}")
    return image


def _conversion(mode: str) -> str:
    if mode == "L":
        return ""
    if mode in SIXTEEN_BIT_MODES:
        return "16-bit grayscale scaled by 1/65535"
    if mode in GRAY_MODES:
        return f"{mode} to 8-bit grayscale (Pillow convert('L')); gray, so 3-channel models refuse it"
    # The luma rule is what 1-channel models see; 3-channel models keep the colour.
    return f"1-channel models: {mode} {LUMA_CONVERSION}; 3-channel models: {_RGB_CONVERSION.get(mode, RGB_CONVERSION)}"
