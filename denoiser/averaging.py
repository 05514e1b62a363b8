"""An exponential moving average of the weights, the model a run ships when `train.ema` is set.

Averaging the iterates (Polyak & Juditsky 1992) smooths the noise of the last optimizer
steps; the decay ramps up as min(decay, (1 + t) / (10 + t)) so that the average does not
remember the random initialisation (the schedule of TensorFlow's ExponentialMovingAverage
with num_updates). Updates are plain fp32 tensor arithmetic in a fixed order, so they are
as deterministic as the optimizer step.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model)
        self.model.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Fold in the weights after 1-based optimizer `step`."""
        decay = min(self.decay, (1 + step) / (10 + step))
        for average, current in zip(self.model.state_dict().values(), model.state_dict().values(), strict=True):
            if average.dtype.is_floating_point:
                average.mul_(decay).add_(current.detach(), alpha=1.0 - decay)
            else:
                average.copy_(current)
