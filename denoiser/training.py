"""The training loop: AdamW, warmup + cosine schedule, gradient clipping, early stopping.

Deterministic by construction (see denoiser.determinism): the same config, seed, data
and thread count give the same checkpoint bytes, and a run resumed from any saved
TrainingState finishes with the same bytes as one that never stopped. The loop knows
nothing about where checkpoints go: it hands each one to `TrainingHooks`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from denoiser.averaging import WeightAverage
from denoiser.checkpoints import TrainingState, weights_from_bytes, weights_to_bytes
from denoiser.config import ExperimentConfig, OptimConfig
from denoiser.determinism import configure
from denoiser.layout import image_channels
from denoiser.networks import build_network
from denoiser.patches import sample_batch, validation_batch


class DataError(ValueError):
    """Training images that cannot be used with this config."""


@dataclass
class LossPoint:
    step: int
    split: str  # "train" (mean over the steps since the previous point) or "val"
    value: float


@dataclass
class Checkpoint:
    step: int
    weights: bytes  # safetensors, weights only (canonical bytes)
    state: bytes  # safetensors TrainingState for resuming
    final: bool
    losses: list[LossPoint] = field(default_factory=list)  # points since the previous checkpoint


class TrainingHooks:
    """Callbacks of the training loop; override what you need."""

    def on_step(self, step: int, total: int, loss: float) -> None:
        """After each optimizer step (1-based `step`)."""

    def on_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Every `checkpoint_every` steps and at the end; persist it here."""


def learning_rate(optim: OptimConfig, step: int, total_steps: int) -> float:
    """LR for 0-based `step`: linear warmup, then cosine decay to 0 or constant."""
    if step < optim.warmup_steps:
        return optim.lr * (step + 1) / optim.warmup_steps
    if optim.schedule == "constant":
        return optim.lr
    progress = (step - optim.warmup_steps) / max(1, total_steps - optim.warmup_steps)
    return optim.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_model(config: ExperimentConfig) -> nn.Module:
    """A freshly initialised network; init draws come from the run's seed."""
    configure(config.train.seed, config.train.threads)
    return build_network(config.model)


def train(
    config: ExperimentConfig,
    train_images: list[np.ndarray],
    val_images: list[np.ndarray],
    hooks: TrainingHooks | None = None,
    resume_weights: bytes | None = None,
    resume_state: bytes | None = None,
    device: str = "cpu",
    train_noisy: list[np.ndarray] | None = None,
    val_noisy: list[np.ndarray] | None = None,
) -> nn.Module:
    """Train to completion (or early stop) and return the model in eval mode.

    `train_noisy`/`val_noisy` (with `noise.kind: pairs` only) are the real noisy files of
    the training and validation images, in the same order.

    `device` is not part of the config: the registry always trains on the CPU, so that
    an audit anywhere re-executes the same arithmetic. Benchmarks may train on "cuda"
    (deterministic per GPU type, not bytes-equal to a CPU run).
    """
    hooks = hooks or TrainingHooks()
    check_images(config, train_images, val_images, train_noisy, val_noisy)
    # Channels-last makes oneDNN's CPU convolutions about 25% faster for these small
    # layers; it changes memory layout only, and weights are saved contiguous.
    model = build_model(config).to(device=device, memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=config.optim.lr,
        betas=tuple(config.optim.betas),
        weight_decay=config.optim.weight_decay,
        foreach=False,  # one fixed kernel path, whatever torch picks by default
    )
    # The weights a checkpoint holds: the optimizer's own, or their moving average.
    average = WeightAverage(model, config.train.ema) if config.train.ema > 0 else None
    shipped = average.model if average else model
    history = {"best_val": None, "bad_evals": 0, "stopped_early": False}
    start = 0
    if resume_state is not None:
        state = TrainingState.from_bytes(resume_state)
        weights_from_bytes(shipped, resume_weights)
        if average:
            model.load_state_dict(state.online, strict=True)
        optimizer.load_state_dict(state.optimizer)
        torch.set_rng_state(state.torch_rng)
        history, start = state.history, state.step

    validation = validation_batch(val_images, config.data, config.noise, config.train.seed, val_noisy).to(device)
    loss_fn = F.l1_loss if config.train.loss == "l1" else F.mse_loss
    total = config.train.steps
    bf16 = config.train.precision == "bf16"
    pending: list[LossPoint] = []
    running: list[float] = []
    model.train()
    step = start
    while step < total and not history["stopped_early"]:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config.optim, step, total)
        batch = sample_batch(
            train_images, config.data, config.noise, config.train.batch_size, config.train.seed, step, train_noisy
        ).to(device)
        noisy = batch.noisy.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=bf16):
            prediction = model(noisy, batch.sigma)
        loss = loss_fn(prediction.float(), batch.clean)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.optim.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.optim.grad_clip)
        optimizer.step()
        step += 1
        if average:
            average.update(model, step)
        running.append(loss.item())
        hooks.on_step(step, total, running[-1])

        if step % config.train.val_every == 0 or step == total:
            pending.append(LossPoint(step, "train", float(np.mean(running))))
            running = []
            val_loss = _validation_loss(shipped, validation, loss_fn)
            pending.append(LossPoint(step, "val", val_loss))
            _update_early_stopping(history, val_loss, config.train.patience)
        final = step == total or history["stopped_early"]
        if step % config.train.checkpoint_every == 0 or final:
            if running:  # a checkpoint between validations still reports the train loss so far
                pending.append(LossPoint(step, "train", float(np.mean(running))))
                running = []
            online = {name: t.detach().clone() for name, t in model.state_dict().items()} if average else {}
            state = TrainingState(step, optimizer.state_dict(), torch.get_rng_state(), dict(history), online)
            hooks.on_checkpoint(Checkpoint(step, weights_to_bytes(shipped), state.to_bytes(), final, pending))
            pending = []
    shipped.eval()
    return shipped


@torch.no_grad()
def _validation_loss(model: nn.Module, batch, loss_fn) -> float:
    model.eval()
    loss = loss_fn(model(batch.noisy, batch.sigma), batch.clean).item()
    model.train()
    return float(loss)


def _update_early_stopping(history: dict, val_loss: float, patience: int) -> None:
    if history["best_val"] is None or val_loss < history["best_val"]:
        history["best_val"], history["bad_evals"] = val_loss, 0
    else:
        history["bad_evals"] += 1
        history["stopped_early"] = patience > 0 and history["bad_evals"] >= patience


def check_images(
    config: ExperimentConfig,
    train_images: list[np.ndarray],
    val_images: list[np.ndarray],
    train_noisy: list[np.ndarray] | None = None,
    val_noisy: list[np.ndarray] | None = None,
) -> None:
    """Raise DataError when the images cannot be trained on with this config."""
    _check_pairs(config, train_images + val_images, train_noisy, val_noisy)
    if not train_images:
        raise DataError("no training images")
    if not val_images:
        raise DataError("no validation images")
    channels = config.model.channels
    wrong = [image_channels(image) for image in train_images + val_images if image_channels(image) != channels]
    if wrong:
        raise DataError(f"model.channels is {channels} but an image has {wrong[0]} channel(s)")
    size = config.data.patch_size
    smallest = min(min(image.shape[:2]) for image in train_images + val_images)
    if smallest < size:
        raise DataError(f"an image is {smallest} px on its short side, smaller than data.patch_size={size}")


def _check_pairs(
    config: ExperimentConfig,
    images: list[np.ndarray],
    train_noisy: list[np.ndarray] | None,
    val_noisy: list[np.ndarray] | None,
) -> None:
    """Real noisy files given exactly when the config trains on pairs, one per image, same shape."""
    pairs = config.noise.kind == "pairs"
    if not pairs:
        if train_noisy is not None or val_noisy is not None:
            raise DataError("noisy files were given but noise.kind is not pairs")
        return
    if train_noisy is None or val_noisy is None:
        raise DataError("noise.kind pairs needs the real noisy file of every training and validation image")
    noisy = train_noisy + val_noisy
    if len(noisy) != len(images):
        raise DataError(f"noise.kind pairs: {len(noisy)} noisy files for {len(images)} images")
    for clean, shot in zip(images, noisy, strict=True):
        if clean.shape != shot.shape:
            raise DataError(f"noise.kind pairs: a noisy file is {shot.shape}, its clean image {clean.shape}")
