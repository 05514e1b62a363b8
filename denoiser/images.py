"""Reading images as the grayscale float arrays the pipeline works on.

Colour images are used as their 8-bit luminance (ITU-R 601-2 luma, Pillow's
`convert("L")`, integer arithmetic and therefore exact everywhere); the conversion is
described by `ImageInfo.conversion` so that the registry can record it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

LUMA_CONVERSION = "colour to 8-bit luminance: L = (299 R + 587 G + 114 B) / 1000 (ITU-R 601-2, Pillow convert('L'))"
SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I"}


class ImageError(ValueError):
    """A file that is not a readable image."""


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    mode: str  # Pillow mode of the file, e.g. "L", "RGB", "I;16"
    conversion: str  # how it becomes one grayscale channel ("" when it already is one)


def inspect_image(path: Path) -> ImageInfo:
    """Open and fully decode an image, so truncated or corrupt files are caught here."""
    with _open(path) as image:
        return ImageInfo(image.width, image.height, image.mode, _conversion(image.mode))


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
    return f"{mode} {LUMA_CONVERSION}"
