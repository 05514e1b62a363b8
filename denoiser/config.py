"""Experiment configuration: typed dataclasses with defaults, loaded from YAML.

A config is validated field by field against the dataclass type hints, so a typo or a
bad value is reported with its dotted path and the values that are allowed. The
canonical JSON of the fully resolved config (defaults included) is what gets hashed
and recorded, so two configs that resolve to the same values share one hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message names the field."""


@dataclass
class SplitConfig:
    train: float = 0.6  # fraction of the candidate images used for training
    val: float = 0.2  # fraction used for validation loss and early stopping
    test: float = 0.2  # fraction held out for the final evaluation

    def validate(self, path: str) -> None:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-9:
            raise ConfigError(f"{path}: train + val + test must be 1, got {total:g}")
        for name in ("train", "val", "test"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigError(f"{path}.{name}: must be between 0 and 1 (exclusive)")


@dataclass
class DataConfig:
    datasets: list[str] = field(default_factory=lambda: ["starter"])  # registered datasets to split
    split: SplitConfig = field(default_factory=SplitConfig)
    split_seed: int = 0  # seed of the train/val/test assignment (recorded with the split)
    patch_size: int = 48  # side of the square training crops, in pixels
    augment: bool = True  # random flips and 90-degree rotations of each crop
    val_crops: int = 4  # fixed crops per validation image used for the validation loss

    def validate(self, path: str) -> None:
        if not self.datasets:
            raise ConfigError(f"{path}.datasets: name at least one dataset")
        if not 16 <= self.patch_size <= 512:
            raise ConfigError(f"{path}.patch_size: must be between 16 and 512, got {self.patch_size}")
        if self.val_crops < 1:
            raise ConfigError(f"{path}.val_crops: must be at least 1")


@dataclass
class NoiseConfig:
    # Additive white Gaussian noise, sigma on the 8-bit scale, drawn per training patch.
    schedule: Literal["log-uniform", "uniform", "fixed"] = "log-uniform"
    sigma_min: float = 5.0  # lower end of the training range (or the fixed sigma)
    sigma_max: float = 50.0  # upper end of the training range

    def validate(self, path: str) -> None:
        if not 0 < self.sigma_min <= self.sigma_max <= 255:
            raise ConfigError(f"{path}: need 0 < sigma_min <= sigma_max <= 255")


@dataclass
class ModelConfig:
    name: Literal["unet"] = "unet"  # architecture, see denoiser.networks
    depth: Literal[3, 5, 7] = 3  # number of scales (resolution levels) of the U-Net
    base_channels: int = 16  # channels at full resolution; doubled at each coarser scale
    blocks_per_scale: int = 1  # residual blocks per scale in encoder and decoder
    skip_connections: bool = True  # encoder-to-decoder skips (the U of the U-Net)
    noise_map: bool = True  # feed sigma as an extra constant input channel
    target: Literal["residual", "clean"] = "residual"  # what the network predicts

    def validate(self, path: str) -> None:
        if not 4 <= self.base_channels <= 256:
            raise ConfigError(f"{path}.base_channels: must be between 4 and 256")
        if not 1 <= self.blocks_per_scale <= 8:
            raise ConfigError(f"{path}.blocks_per_scale: must be between 1 and 8")


@dataclass
class OptimConfig:
    lr: float = 1e-3  # peak learning rate (AdamW)
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 1e-4  # decoupled weight decay
    schedule: Literal["cosine", "constant"] = "cosine"  # decay after warmup
    warmup_steps: int = 50  # linear warmup from 0 to lr
    grad_clip: float = 1.0  # max global gradient norm; 0 turns clipping off

    def validate(self, path: str) -> None:
        if not 0 < self.lr < 1:
            raise ConfigError(f"{path}.lr: must be in (0, 1), got {self.lr:g}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"{path}.betas: need two values in [0, 1)")
        if self.warmup_steps < 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise ConfigError(f"{path}: warmup_steps, weight_decay and grad_clip must be >= 0")


@dataclass
class TrainConfig:
    seed: int = 0  # seeds model init, batch sampling and noise (each from its own stream)
    steps: int = 600  # optimizer steps
    batch_size: int = 16  # patches per step
    loss: Literal["l1", "l2"] = "l2"
    checkpoint_every: int = 200  # steps between checkpoints (the last step is always saved)
    val_every: int = 100  # steps between validation-loss measurements
    patience: int = 0  # stop after this many validations without improvement; 0 = never
    threads: int = 2  # torch intra-op threads; fixed and recorded for bitwise determinism

    def validate(self, path: str) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "val_every", "threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{path}.{name}: must be at least 1")
        if self.patience < 0:
            raise ConfigError(f"{path}.patience: must be >= 0")


@dataclass
class EvalConfig:
    sigmas: list[float] = field(default_factory=lambda: [15.0, 25.0, 50.0])  # test noise levels

    def validate(self, path: str) -> None:
        if not self.sigmas or not all(0 < s <= 255 for s in self.sigmas):
            raise ConfigError(f"{path}.sigmas: need one or more values in (0, 255]")


@dataclass
class AuditConfig:
    # Tolerances used only when the environment or code differs from the recorded one:
    # PyTorch promises bitwise equality only on identical software and hardware.
    psnr_atol: float = 0.05  # dB, per image and sigma
    ssim_atol: float = 0.002
    lpips_atol: float = 0.005
    weight_rtol: float = 1e-3  # relative L2 distance between checkpoint weights


@dataclass
class ExperimentConfig:
    name: str = "experiment"
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """sha256 of the canonical JSON of the resolved config."""
        return config_digest(self.to_dict())


def config_digest(resolved: dict[str, Any]) -> str:
    canonical = json.dumps(resolved, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def load_config(path: Path, overrides: list[str] = ()) -> ExperimentConfig:
    """Read a YAML config, apply `key=value` overrides, validate and resolve defaults."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path} must be a mapping of sections, got {type(raw).__name__}")
    for override in overrides:
        apply_override(raw, override)
    return config_from_dict(raw)


def apply_override(raw: dict[str, Any], override: str) -> None:
    """Set a dotted key from `key=value`; the value is parsed as YAML (numbers, lists...)."""
    key, sep, value = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects key=value, got {override!r}")
    parts = key.strip().split(".")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {key}: {part} is not a section")
        node = child
    try:
        node[parts[-1]] = yaml.safe_load(value)
    except yaml.YAMLError:
        raise ConfigError(f"--set {key}: cannot parse value {value!r}") from None


def config_from_dict(raw: dict[str, Any]) -> ExperimentConfig:
    """Validate a config mapping (as read from YAML or recorded in a run) and resolve defaults."""
    return _build(ExperimentConfig, raw, "")


def _build(cls: type, raw: Any, path: str) -> Any:
    where = path or "config"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise ConfigError(f"{_join(path, unknown[0])}: unknown field; allowed: {', '.join(names)}")
    values = {name: _coerce(hints[name], raw[name], _join(path, name)) for name in names if name in raw}
    obj = cls(**values)
    if hasattr(obj, "validate"):
        obj.validate(where)
    return obj


def _coerce(hint: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
            raise ConfigError(f"{path}: {value!r} is not allowed; allowed: {', '.join(map(str, allowed))}")
        return value
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        return [_coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"{path}: union types are not supported in configs")
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected text, got {value!r}")
        return value
    raise ConfigError(f"{path}: unsupported config type {hint!r}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
