"""Image quality metrics, following the published denoising protocol.

PSNR and SSIM are computed by scikit-image on the whole image, data range 1, after the
estimate is clipped to [0, 1] and rounded to 8 bits (what a saved PNG holds). SSIM uses
the Gaussian-window settings of Wang et al. (2004), as the published tables do. Colour
images (H, W, 3) follow the published colour protocol: PSNR over all channels at once,
SSIM per channel (channel axis) and averaged, LPIPS on the RGB image itself.
LPIPS (Zhang et al. 2018) needs torchvision's pretrained AlexNet; when those weights are
not on disk it is reported unavailable with the reason, never computed from random ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from denoiser.layout import to_batch

ALEXNET_WEIGHTS = "alexnet-owt-7be5be79.pth"


def quantize(image: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and round to the 8-bit grid, as float64."""
    return np.round(np.clip(image.astype(np.float64), 0.0, 1.0) * 255.0) / 255.0


def psnr(clean: np.ndarray, estimate: np.ndarray) -> float:
    return float(peak_signal_noise_ratio(clean.astype(np.float64), quantize(estimate), data_range=1.0))


def ssim(clean: np.ndarray, estimate: np.ndarray) -> float:
    return float(
        structural_similarity(
            clean.astype(np.float64),
            quantize(estimate),
            data_range=1.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            channel_axis=-1 if clean.ndim == 3 else None,
        )
    )


def alexnet_weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_WEIGHTS


class Lpips:
    """LPIPS with the AlexNet backbone, or a recorded reason why it is unavailable."""

    def __init__(self) -> None:
        self._model = None
        weights = alexnet_weights_path()
        if not weights.is_file():
            self.unavailable_reason = (
                f"LPIPS needs torchvision's pretrained AlexNet weights at {weights}, which are not present "
                f"and cannot be downloaded here; copy {ALEXNET_WEIGHTS} there (or set TORCH_HOME) to enable it"
            )
        else:
            self.unavailable_reason = ""

    @property
    def available(self) -> bool:
        return not self.unavailable_reason

    @torch.no_grad()
    def __call__(self, clean: np.ndarray, estimate: np.ndarray) -> float:
        if not self.available:
            raise RuntimeError(self.unavailable_reason)
        if self._model is None:
            import lpips  # imported late: it pulls in torchvision

            self._model = lpips.LPIPS(net="alex", verbose=False).eval()

        def to_input(image: np.ndarray) -> torch.Tensor:
            # (1, 3, H, W) scaled to [-1, 1] as LPIPS expects; gray is repeated into its 3 channels.
            tensor = to_batch([image.astype(np.float32)])
            return (tensor.repeat(1, 3, 1, 1) if image.ndim == 2 else tensor) * 2.0 - 1.0

        return float(self._model(to_input(clean), to_input(quantize(estimate))).item())
