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
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message names the field."""


# Fields added after runs were recorded carry this mark: at their default they stay out of
# the canonical JSON, so every older run's config keeps its recorded hash (and audits).
OMITTED_AT_DEFAULT = "omitted_at_default"


def added_field(default: Any) -> Any:
    """A config field added later: left out of the recorded config while it has its default."""
    return field(default=default, metadata={OMITTED_AT_DEFAULT: True})


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
    # Colour jitter of each training crop (3-channel models only): every channel scaled by
    # 1 + U(-s, s) before noise is added, the seed study's "slight colour jitter". 0 = off.
    color_jitter: float = added_field(0.0)

    def validate(self, path: str) -> None:
        if not self.datasets:
            raise ConfigError(f"{path}.datasets: name at least one dataset")
        if not 0 <= self.split_seed < 2**31:
            raise ConfigError(f"{path}.split_seed: must be in [0, 2**31)")
        if not 16 <= self.patch_size <= 512:
            raise ConfigError(f"{path}.patch_size: must be between 16 and 512, got {self.patch_size}")
        if self.val_crops < 1:
            raise ConfigError(f"{path}.val_crops: must be at least 1")
        if not 0 <= self.color_jitter <= 0.5:
            raise ConfigError(f"{path}.color_jitter: must be between 0 (off) and 0.5, got {self.color_jitter:g}")


@dataclass
class NoiseConfig:
    # Training noise, drawn per patch. Sigma is on the 8-bit scale. "pairs": no synthetic
    # noise; each crop is cut at the same place from a clean image and its real noisy file
    # (paired datasets only), and the network is told the crop's measured noise level.
    kind: Literal["awgn", "poisson-gaussian", "jpeg", "pairs"] = "awgn"
    per: Literal["patch", "image"] = "patch"  # a new level for every patch, or one per source image and step
    schedule: Literal["log-uniform", "uniform", "fixed"] = "log-uniform"  # AWGN sigma
    sigma_min: float = 5.0  # lower end of the AWGN range (or the fixed sigma)
    sigma_max: float = 50.0  # upper end of the AWGN range
    peak_min: float = 10.0  # Poisson-Gaussian: photons at white, drawn log-uniformly
    peak_max: float = 100.0
    read_sigma: float = 2.0  # Poisson-Gaussian: Gaussian read noise
    jpeg_quality_min: int = 10  # JPEG: quality drawn uniformly in [min, max]
    jpeg_quality_max: int = 60

    def validate(self, path: str) -> None:
        if not 0 < self.sigma_min <= self.sigma_max <= 255:
            raise ConfigError(f"{path}: need 0 < sigma_min <= sigma_max <= 255")
        if not 0 < self.peak_min <= self.peak_max or self.read_sigma < 0:
            raise ConfigError(f"{path}: need 0 < peak_min <= peak_max and read_sigma >= 0")
        if not 1 <= self.jpeg_quality_min <= self.jpeg_quality_max <= 95:
            raise ConfigError(f"{path}: need 1 <= jpeg_quality_min <= jpeg_quality_max <= 95")


@dataclass
class ModelConfig:
    name: Literal["unet", "dncnn"] = "unet"  # architecture, see denoiser.networks
    channels: Literal[1, 3] = added_field(1)  # image channels in and out: 1 gray, 3 RGB
    # U-Net (denoiser/networks/unet.py)
    depth: Literal[3, 5, 7] = 3  # number of scales (resolution levels) of the U-Net
    base_channels: int = 16  # channels at full resolution, doubled per coarser scale (DnCNN: every layer)
    max_channels: int = 512  # cap on the channels of coarse scales; keeps deep U-Nets small
    blocks_per_scale: int = 1  # residual blocks per scale in encoder and decoder
    skip_connections: bool = True  # encoder-to-decoder skips (the U of the U-Net)
    norm: Literal["none", "group"] = "none"  # GroupNorm inside residual blocks
    attention_levels: int = 0  # multi-head self-attention at this many of the deepest scales
    attention_heads: int = 4
    # Noise-level conditioning (both U-Net and DnCNN)
    noise_map: bool = True  # sigma as an extra constant input channel
    noise_embedding: bool = False  # sinusoidal embedding of sigma added inside every residual block
    target: Literal["residual", "clean"] = "residual"  # what the network predicts
    # DnCNN (denoiser/networks/dncnn.py)
    layers: int = 17  # convolution layers

    def validate(self, path: str) -> None:
        if not 4 <= self.base_channels <= 256:
            raise ConfigError(f"{path}.base_channels: must be between 4 and 256")
        if self.max_channels < self.base_channels:
            raise ConfigError(f"{path}.max_channels: must be at least base_channels ({self.base_channels})")
        if not 1 <= self.blocks_per_scale <= 8:
            raise ConfigError(f"{path}.blocks_per_scale: must be between 1 and 8")
        if not 0 <= self.attention_levels <= self.depth:
            raise ConfigError(f"{path}.attention_levels: must be between 0 and depth ({self.depth})")
        if self.attention_heads < 1:
            raise ConfigError(f"{path}.attention_heads: must be at least 1")
        for level in range(self.depth - self.attention_levels, self.depth):
            width = min(self.base_channels * 2**level, self.max_channels)
            if width % self.attention_heads:
                raise ConfigError(
                    f"{path}.attention_heads: {self.attention_heads} heads do not divide "
                    f"the {width} channels of scale {level}"
                )
        if not 3 <= self.layers <= 40:
            raise ConfigError(f"{path}.layers: must be between 3 and 40")
        if self.noise_embedding and self.name == "dncnn":
            raise ConfigError(f"{path}.noise_embedding: only the U-Net has one; use noise_map with dncnn")


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
    # bf16: forward and backward under torch.autocast("cpu", bfloat16) (weights, optimizer and
    # loss stay fp32); about twice the steps per second on CPUs with AVX512-BF16, and still
    # deterministic. Evaluation and inference always run in fp32.
    precision: Literal["fp32", "bf16"] = added_field("fp32")
    # Decay of an exponential moving average of the weights; the run's checkpoints (and so
    # its evaluations and exports) are the average. 0 = off: the optimizer's weights.
    ema: float = added_field(0.0)

    def validate(self, path: str) -> None:
        if not 0 <= self.ema < 1:
            raise ConfigError(f"{path}.ema: must be in [0, 1) (0 turns averaging off), got {self.ema:g}")
        if not 0 <= self.seed < 2**31:
            raise ConfigError(f"{path}.seed: must be in [0, 2**31)")
        for name in ("steps", "batch_size", "checkpoint_every", "val_every", "threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{path}.{name}: must be at least 1")
        if self.patience < 0:
            raise ConfigError(f"{path}.patience: must be >= 0")


BaselineName = Literal["gaussian", "wavelet", "tv", "nlm", "bm3d"]


@dataclass
class EvalConfig:
    sigmas: list[float] = field(default_factory=lambda: [15.0, 25.0, 50.0])  # test noise levels (AWGN)
    baselines: list[BaselineName] = field(default_factory=lambda: ["gaussian"])  # scored on the same noisy images
    # float: the noisy input stays unclipped float (the published protocol); png8: it is
    # clipped and rounded to 8 bits first, as in the noisy PNG files users actually have.
    protocol: Literal["float", "png8"] = "float"
    blind: bool = False  # condition on sigma estimated from each noisy image, not the true one
    estimator: Literal["pca", "mad", "liu"] = added_field("liu")  # blind-mode estimator; older runs record "pca"
    steps: int = 1  # annealed denoising steps; 1 is the one-step estimate

    def validate(self, path: str) -> None:
        if not self.sigmas or not all(0 < s <= 255 for s in self.sigmas):
            raise ConfigError(f"{path}.sigmas: need one or more values in (0, 255]")
        if not 1 <= self.steps <= 16:
            raise ConfigError(f"{path}.steps: must be between 1 and 16")


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

    def validate(self, path: str) -> None:
        if self.data.color_jitter and self.model.channels == 1:
            raise ConfigError("data.color_jitter: needs colour images; set model.channels: 3 or leave it 0")
        if self.data.color_jitter and self.noise.kind == "pairs":
            # A colour cast applied to the clean crop would have to be undone in the real noise too.
            raise ConfigError("data.color_jitter: not with noise.kind pairs (the real noisy file has no such cast)")
        hidden = _hidden_characters(self.name)
        if hidden:
            # The name is printed in tables and embedded in signed outputs: an escape sequence or a
            # bidirectional override in it could rewrite what a reader's terminal shows.
            raise ConfigError(f"name: must not contain control or format characters (found {', '.join(hidden)})")

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as recorded: every field, except later additions at their default."""
        return _recorded(self)

    def digest(self) -> str:
        """sha256 of the canonical JSON of the resolved config."""
        return config_digest(self.to_dict())


def _hidden_characters(text: str) -> list[str]:
    """Code points of the control and format characters (Unicode Cc, Cf) in `text`, as U+XXXX.

    A copy of registry.text's rule: `denoiser` imports nothing from `registry`.
    """
    return sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cf")})


def _recorded(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {
            f.name: _recorded(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (f.metadata.get(OMITTED_AT_DEFAULT) and getattr(value, f.name) == f.default)
        }
    if isinstance(value, list):
        return [_recorded(item) for item in value]
    return value


def config_digest(resolved: dict[str, Any]) -> str:
    canonical = json.dumps(resolved, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def load_config(path: Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Read a YAML config, apply `key=value` overrides, validate and resolve defaults.

    A config may start from another with `base: other.yaml` (relative to its own folder);
    its own fields override the base's, section by section.
    """
    raw = _read_with_bases(Path(path), seen=())
    for override in overrides:
        apply_override(raw, override)
    return config_from_dict(raw)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What is wrong and where: 'line 3, column 7: mapping values are not allowed here'."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _read_with_bases(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config {path} is not valid YAML: {_yaml_problem(exc)}") from None
    if raw is None or raw == {}:  # an empty file would silently train every default
        raise ConfigError(f"config {path} is empty; start from configs/quickstart.yaml (fields: denoiser/config.py)")
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path} must be a mapping of sections, got {type(raw).__name__}")
    base = raw.pop("base", None)
    if base is None:
        return raw
    base_path = (path.parent / str(base)).resolve()
    if base_path in seen:
        raise ConfigError(f"config {path}: `base` chain loops back to {base_path}")
    return _merge(_read_with_bases(base_path, (*seen, path.resolve())), raw)


def _merge(base: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in own.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


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
        if value not in allowed or type(value) is not type(allowed[0]):  # 3.0 is not the depth 3
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
