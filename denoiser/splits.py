"""Train/validation/test assignment from a seed."""

from __future__ import annotations

from denoiser.config import SplitConfig
from denoiser.determinism import stream


class SplitError(ValueError):
    """Too few images for the requested split."""


def make_split(keys: list[str], fractions: SplitConfig, seed: int) -> dict[str, list[str]]:
    """Shuffle the sorted keys with stream(seed, "split") and cut them by the fractions.

    Validation and test get at least one image each; the keys are sorted first, so the
    result does not depend on the order the caller listed them in.
    """
    ordered = sorted(keys)
    if len(ordered) < 3:
        raise SplitError(f"need at least 3 images for a train/val/test split, have {len(ordered)}")
    order = stream(seed, "split").permutation(len(ordered))
    shuffled = [ordered[i] for i in order]
    n_val = max(1, round(len(ordered) * fractions.val))
    n_test = max(1, round(len(ordered) * fractions.test))
    n_train = len(ordered) - n_val - n_test
    if n_train < 1:
        raise SplitError(f"{len(ordered)} images leave none for training with these fractions")
    return {
        "train": shuffled[:n_train],
        "val": shuffled[n_train : n_train + n_val],
        "test": shuffled[n_train + n_val :],
    }
