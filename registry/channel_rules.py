"""Which channels a model sees of a photo, and what comes back (`registry denoise`).

- a colour model on a colour photo: RGB in, RGB out;
- a gray model on a gray photo: as always;
- a colour model on a gray photo: the gray plane replicated to R, G and B, denoised, and
  the mean of the three output planes taken back (the three are estimates of one gray
  image: their mean has less noise than any one, and luma weights would only favour G);
- a gray model on a colour photo: refused, unless `--luminance`: the photo goes to YCbCr
  (ITU-R 601, JPEG full range), Y is denoised, Cb and Cr are kept, and the result goes
  back to RGB, so Cb and Cr change only where RGB must be clipped back into [0, 1]. A
  given --sigma is the noise of each RGB channel; the model is conditioned on the
  noise it leaves in Y (x0.669 for noise independent across channels); --blind
  estimates Y's noise directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from denoiser.defaults import BLIND_DEFAULT
from denoiser.inference import estimate_sigma
from denoiser.tiling import denoise_tiled
from denoiser.ycbcr import LUMA_NOISE_GAIN, rgb_to_ycbcr, ycbcr_to_rgb
from registry.errors import RegistryError
from registry.photos import Photo

DIRECT = "direct"  # the model's own channels
GRAY_ON_COLOUR_MODEL = "gray-replicated"  # a gray photo through a colour model
LUMINANCE = "luminance"  # a colour photo's Y through a gray model
LUMINANCE_OPTION = "--luminance"


@dataclass(frozen=True)
class ChannelPlan:
    mode: str  # DIRECT, GRAY_ON_COLOUR_MODEL or LUMINANCE
    model: int  # channels the model takes
    input: int  # channels of the photo
    output: int  # channels written (the photo's)

    def describe(self) -> dict[str, Any]:
        data: dict[str, Any] = {"input": self.input, "output": self.output, "model": self.model, "mode": self.mode}
        if self.mode == LUMINANCE:
            data["luminance"] = "Y of ITU-R 601 full-range YCbCr denoised; Cb and Cr kept"
        elif self.mode == GRAY_ON_COLOUR_MODEL:
            data["gray"] = "replicated to RGB; the mean of the three output planes taken back"
        return data


def plan_channels(model_channels: int, photo_channels: int, luminance: bool, shown: object) -> ChannelPlan:
    """The plan for one photo; a gray model on a colour photo without --luminance is a one-line error."""
    if luminance and model_channels == 3:
        raise RegistryError(f"{LUMINANCE_OPTION} is for gray models; this colour model denoises RGB directly")
    if model_channels == photo_channels:
        return ChannelPlan(DIRECT, model_channels, photo_channels, photo_channels)
    if model_channels == 3:
        return ChannelPlan(GRAY_ON_COLOUR_MODEL, 3, 1, 1)
    if not luminance:
        raise RegistryError(
            f"{shown} is a colour photo and the model is gray (1 channel): use a colour model "
            f"(model.channels: 3), or pass {LUMINANCE_OPTION} to denoise its luminance and keep its colour"
        )
    return ChannelPlan(LUMINANCE, 1, 3, 3)


def denoise_photo(
    network: nn.Module,
    photo: Photo,
    plan: ChannelPlan,
    sigma: float | None,
    estimator: str = BLIND_DEFAULT,
    steps: int = 1,
    tile: int = 0,
) -> float:
    """Replace `photo.pixels` by their denoised version (same shape, float32, unclipped).

    Returns the sigma the model was given (`sigma` None: estimated from what the model
    sees, blind mode). The noisy pixels are let go as soon as they are converted, so a
    large photo is held about twice (noisy and clean), not three or four times.
    """
    noisy, photo.pixels = photo.pixels, None
    if plan.mode == LUMINANCE:
        y, cb, cr = rgb_to_ycbcr(noisy)
        del noisy
        level = estimate_sigma(y, estimator) if sigma is None else sigma * LUMA_NOISE_GAIN
        y = denoise_tiled(network, y, level, steps, tile)
        photo.pixels = ycbcr_to_rgb(y, cb, cr)
    elif plan.mode == GRAY_ON_COLOUR_MODEL:
        level = estimate_sigma(noisy, estimator) if sigma is None else sigma
        replicated = np.repeat(noisy[..., None], 3, axis=2)
        del noisy
        photo.pixels = denoise_tiled(network, replicated, level, steps, tile).mean(axis=2, dtype=np.float32)
    else:
        level = estimate_sigma(noisy, estimator) if sigma is None else sigma
        photo.pixels = denoise_tiled(network, noisy, level, steps, tile)
    return level
