"""A hash of what an image shows, independent of how its file is encoded.

It survives re-encoding (which strips a C2PA manifest), so a verifier can still tell
that a file without a manifest shows exactly the pixels of a signed output.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image


def pixel_sha256(path: Path) -> str:
    """sha256 over mode, size and raw pixel bytes of the decoded image."""
    with Image.open(path) as image:
        image.load()
        pixels = np.asarray(image)
        header = f"{image.mode}:{image.width}x{image.height}:{pixels.dtype.str}:".encode()
    return hashlib.sha256(header + np.ascontiguousarray(pixels).tobytes()).hexdigest()
