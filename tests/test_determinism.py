"""Same config and seed, same bytes; another seed, other bytes; resume equals uninterrupted."""

import hashlib

import numpy as np
import pytest
import torch

from denoiser.config import config_from_dict
from denoiser.training import TrainingHooks, train
from tests.conftest import synthetic_image

CONFIG = {
    "data": {"patch_size": 16, "val_crops": 2},
    "model": {"base_channels": 4},
    "optim": {"warmup_steps": 2},
    "train": {"steps": 8, "batch_size": 4, "checkpoint_every": 4, "val_every": 4, "threads": 1},
}


class Collect(TrainingHooks):
    def __init__(self):
        self.checkpoints = []

    def on_checkpoint(self, checkpoint):
        self.checkpoints.append(checkpoint)


def run(seed: int, train_options: dict | None = None, **resume):
    config = config_from_dict(CONFIG | {"train": CONFIG["train"] | {"seed": seed} | (train_options or {})})
    images = [synthetic_image(i).astype(np.float32) / 255 for i in range(5)]
    hooks = Collect()
    train(config, images[:4], images[4:], hooks, **resume)
    return hooks.checkpoints


def digests(checkpoints):
    return [hashlib.sha256(c.weights).hexdigest() for c in checkpoints]


def test_same_seed_gives_identical_checkpoint_bytes():
    assert digests(run(0)) == digests(run(0))


def test_another_seed_gives_other_bytes():
    first, second = digests(run(0)), digests(run(1))
    assert all(a != b for a, b in zip(first, second))


def test_resume_from_a_checkpoint_equals_the_uninterrupted_run():
    full = run(0)
    middle = full[0]
    assert middle.step == 4
    resumed = run(0, resume_weights=middle.weights, resume_state=middle.state)
    assert [c.step for c in resumed] == [8]
    assert resumed[-1].weights == full[-1].weights
    assert resumed[-1].state == full[-1].state


@pytest.mark.parametrize(
    "options", [{"precision": "bf16"}, {"ema": 0.9}, {"precision": "bf16", "ema": 0.9}], ids=["bf16", "ema", "both"]
)
def test_bf16_and_weight_averaging_are_deterministic_and_resume_exactly(options):
    full = run(0, options)
    assert digests(full) == digests(run(0, options))
    assert digests(full) != digests(run(0)), "the option changed nothing"
    resumed = run(0, options, resume_weights=full[0].weights, resume_state=full[0].state)
    assert resumed[-1].weights == full[-1].weights
    assert resumed[-1].state == full[-1].state


def test_weight_averaging_checkpoints_the_average_and_keeps_the_online_weights_for_resuming():
    from safetensors.torch import load

    from denoiser.checkpoints import TrainingState

    averaged, plain = run(0, {"ema": 0.9})[-1], run(0)[-1]
    online = TrainingState.from_bytes(averaged.state).online
    assert online, "the optimizer's own weights are not in the state"
    # Same seed, same draws: the optimizer's weights are the plain run's; the checkpoint differs.
    assert all(torch.equal(online[name], weight) for name, weight in load(plain.weights).items())
    assert averaged.weights != plain.weights
    assert TrainingState.from_bytes(plain.state).online == {}


def test_early_stopping_ends_on_a_final_checkpoint():
    # A learning rate too small to move float32 weights: the validation loss never
    # improves after the first measurement, so patience 2 stops at the third.
    config = config_from_dict(
        CONFIG | {"optim": {"lr": 1e-12, "warmup_steps": 0}, "train": CONFIG["train"] | {"steps": 40, "patience": 2}}
    )
    images = [synthetic_image(i).astype(np.float32) / 255 for i in range(5)]
    hooks = Collect()
    train(config, images[:4], images[4:], hooks)
    assert [c.step for c in hooks.checkpoints] == [4, 8, 12]
    assert hooks.checkpoints[-1].final


def test_a_short_training_run_lowers_the_validation_loss():
    config = config_from_dict(
        CONFIG
        | {
            "optim": {"lr": 0.003, "warmup_steps": 2},
            "train": CONFIG["train"] | {"steps": 40, "val_every": 10, "checkpoint_every": 40},
        }
    )
    images = [synthetic_image(i, size=48).astype(np.float32) / 255 for i in range(6)]
    hooks = Collect()
    train(config, images[:5], images[5:], hooks)
    val = [p.value for c in hooks.checkpoints for p in c.losses if p.split == "val"]
    assert len(val) == 4 and val[-1] < 0.8 * val[0]
