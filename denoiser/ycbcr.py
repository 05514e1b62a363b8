"""RGB <-> YCbCr, ITU-R BT.601 full range as JPEG (JFIF) defines it, on float32 [0, 1] arrays.

Cb and Cr are centred on 0.5, as the 8-bit JPEG planes are on 128, so Pillow's
`convert("YCbCr")` of an 8-bit image matches these to within rounding.
"""

from __future__ import annotations

import numpy as np

# Noise of standard deviation s, independent in R, G and B, has this standard deviation in Y.
LUMA_NOISE_GAIN = float(np.sqrt(0.299**2 + 0.587**2 + 0.114**2))


def rgb_to_ycbcr(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H, W, 3) RGB -> Y, Cb, Cr, each float32 (H, W)."""
    r, g, b = (rgb[..., channel] for channel in range(3))
    y = _mix(r, g, b, 0.299, 0.587, 0.114, 0.0)
    cb = _mix(r, g, b, -0.168736, -0.331264, 0.5, 0.5)
    cr = _mix(r, g, b, 0.5, -0.418688, -0.081312, 0.5)
    return y, cb, cr


def ycbcr_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """Y, Cb, Cr (H, W) -> float32 (H, W, 3) RGB, unclipped."""
    rgb = np.empty((*y.shape, 3), dtype=np.float32)
    rgb[..., 0] = y + np.float32(1.402) * (cr - np.float32(0.5))
    rgb[..., 1] = y - np.float32(0.344136) * (cb - np.float32(0.5)) - np.float32(0.714136) * (cr - np.float32(0.5))
    rgb[..., 2] = y + np.float32(1.772) * (cb - np.float32(0.5))
    return rgb


def _mix(r: np.ndarray, g: np.ndarray, b: np.ndarray, wr: float, wg: float, wb: float, offset: float) -> np.ndarray:
    out = r * np.float32(wr)  # float32 throughout: a photo-sized float64 copy would double the memory
    out += g * np.float32(wg)
    out += b * np.float32(wb)
    out += np.float32(offset)
    return out
