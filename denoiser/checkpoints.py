"""Checkpoint serialisation with safetensors (never pickle).

Weights are written with no metadata, so the file bytes are a function of the weights
alone and a hash of the file is a hash of the model. The resumable training state
(optimizer moments, torch RNG state, step, loss history) goes in a separate safetensors
file, its scalars as a JSON byte tensor, so that it too is canonical.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn


def weights_to_bytes(model: nn.Module) -> bytes:
    tensors = {name: t.detach().contiguous().cpu() for name, t in model.state_dict().items()}
    return save_tensors(tensors)


def weights_from_bytes(model: nn.Module, data: bytes) -> None:
    model.load_state_dict(load_tensors(data), strict=True)


@dataclass
class TrainingState:
    """Everything beyond the weights that a resumed run needs to continue bit for bit."""

    step: int  # optimizer steps completed
    optimizer: dict[str, Any]  # torch optimizer state_dict
    torch_rng: torch.Tensor  # torch.get_rng_state()
    history: dict[str, Any] = field(
        default_factory=dict
    )  # early-stopping counters (best validation loss, bad evaluations)
    # The optimizer's own weights when the checkpoint's weights are an average of them
    # (train.ema); empty otherwise, so states of runs without it keep their bytes.
    online: dict[str, torch.Tensor] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        # Scalars travel as a JSON byte tensor, not as safetensors metadata: metadata is
        # a hash map whose order varies between processes, which would break
        # byte-for-byte comparison of states.
        scalars = {"step": self.step, "param_groups": self.optimizer["param_groups"], "history": self.history}
        encoded = json.dumps(scalars, sort_keys=True).encode()
        tensors = {"scalars.json": torch.frombuffer(bytearray(encoded), dtype=torch.uint8), "rng.torch": self.torch_rng}
        for index, slots in self.optimizer["state"].items():
            for key, value in slots.items():
                tensors[f"optimizer.{index}.{key}"] = value.detach().contiguous().cpu()
        for name, value in self.online.items():
            tensors[f"online.{name}"] = value.detach().contiguous().cpu()
        return save_tensors(tensors)

    @classmethod
    def from_bytes(cls, data: bytes) -> TrainingState:
        tensors = load_tensors(data)
        scalars = json.loads(tensors.pop("scalars.json").numpy().tobytes())
        state: dict[int, dict[str, torch.Tensor]] = {}
        online: dict[str, torch.Tensor] = {}
        for name, value in tensors.items():
            if name.startswith("optimizer."):
                _, index, key = name.split(".", 2)
                state.setdefault(int(index), {})[key] = value
            elif name.startswith("online."):
                online[name.removeprefix("online.")] = value
        return cls(
            step=scalars["step"],
            optimizer={"state": state, "param_groups": scalars["param_groups"]},
            torch_rng=tensors["rng.torch"],
            history=scalars["history"],
            online=online,
        )
