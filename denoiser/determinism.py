"""Determinism: fixed threads, deterministic kernels, and named random streams.

Every random draw (split, crops, augmentation, noise) comes from a numpy Generator
derived from the run's seed and a *stream key* such as ("batch", step). A stream key
makes each draw a pure function of (seed, purpose, position), so a resumed run draws
exactly what the uninterrupted run drew, and no draw depends on global state or on
the order in which other streams were used.
"""

from __future__ import annotations

import hashlib
import os
import random

import numpy as np
import torch


def configure(seed: int, threads: int) -> None:
    """Pin everything PyTorch could make nondeterministic, then seed the global RNGs.

    The global RNGs are seeded only for third-party code that might use them; our own
    draws use `stream()`.
    """
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    # Needed by cuBLAS for deterministic matmuls when a GPU is used.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def stream(seed: int, *key: int | float | str) -> np.random.Generator:
    """A generator for one purpose, e.g. stream(seed, "batch", 17) or ("eval", image, 25)."""
    return np.random.default_rng([seed % 2**63, *(_key_int(k) for k in key)])


def _key_int(part: int | float | str) -> int:
    if isinstance(part, int) and 0 <= part < 2**63:
        return part
    # Strings and floats go through sha256, never hash(), which is salted per process.
    digest = hashlib.sha256(repr(part).encode()).digest()
    return int.from_bytes(digest[:8], "little")
