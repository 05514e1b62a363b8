"""Compute cost of a network: parameters, FLOPs, inference time and peak memory.

FLOPs come from `torch.utils.flop_counter` on the actual input size (convolutions scale
with pixels, attention does not). Time is the median of repeated forward passes at a
fixed thread count. Peak memory is the growth of the resident set during one forward
pass, sampled by a thread (Linux /proc).
"""

from __future__ import annotations

import ctypes
import os
import statistics
import threading
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from denoiser.layout import model_channels


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _input(model: nn.Module, height: int, width: int, fill=torch.zeros) -> torch.Tensor:
    return fill(1, model_channels(model), height, width)


@torch.no_grad()
def flops(model: nn.Module, height: int, width: int) -> int:
    """Floating-point operations of one forward pass on a (1, C, height, width) image."""
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter:
        model(_input(model, height, width), torch.tensor([25.0]))
    return int(counter.get_total_flops())


@torch.no_grad()
def inference_seconds(model: nn.Module, height: int, width: int, repeats: int = 5, steps: int = 1) -> float:
    """Median wall time of `repeats` forward passes (after one warm-up pass)."""
    model.eval()
    x, sigma = _input(model, height, width, torch.rand), torch.tensor([25.0])
    times = []
    for index in range(repeats + 1):
        started = time.perf_counter()
        y = x
        for _ in range(steps):
            y = model(y, sigma)
        if index:  # the first pass pays for one-time allocations
            times.append(time.perf_counter() - started)
    return statistics.median(times)


M_MMAP_THRESHOLD = -3  # glibc mallopt parameter


def _return_freed_memory() -> None:
    """Make glibc hand large freed blocks straight back to the OS.

    By default glibc raises its mmap threshold after a large free, so later tensors are
    served from the heap and their release never shows in the resident set. A fixed
    threshold keeps every tensor above 128 KiB mmap-backed, so the resident set follows
    live tensor memory.
    """
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, 128 * 1024)
    except (OSError, AttributeError):  # not glibc: measurements are then upper bounds
        pass


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:  # pages: size resident shared ...
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@torch.no_grad()
def peak_memory(model: nn.Module, height: int, width: int) -> int:
    """Peak growth of resident memory (bytes) during one forward pass.

    A thread samples the resident set every half millisecond while the pass runs (torch
    releases the GIL inside its kernels). Large tensors are mmap-allocated and returned
    on free, so the resident set follows live tensor memory closely.
    """
    _return_freed_memory()
    model.eval()
    x, sigma = _input(model, height, width, torch.rand), torch.tensor([25.0])
    model(x, sigma)  # warm-up: one-time allocations are not the pass's working memory
    baseline = _resident_bytes()
    peak, running = baseline, True

    def sample() -> None:
        nonlocal peak
        while running:
            peak = max(peak, _resident_bytes())
            time.sleep(0.0005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        model(x, sigma)
    finally:
        running = False
        sampler.join()
    return max(peak, _resident_bytes()) - baseline


STANDARD_SIZES = ((256, 256), (512, 512))


def profile_steps(sizes=STANDARD_SIZES) -> int:
    """How many steps `profile` reports through `done`: FLOPs, then time and memory per size."""
    return 1 + 2 * len(sizes)


def profile(
    model: nn.Module, sizes=STANDARD_SIZES, repeats: int = 5, done: Callable[[int], None] | None = None
) -> dict:
    """Parameters, FLOPs per megapixel, and time and peak memory per image size.

    `done(count)` is called after each of `profile_steps(sizes)` steps (a progress bar's update).
    """
    done = done or (lambda count: None)
    largest = max(sizes, key=lambda s: s[0] * s[1])
    gflops = flops(model, *largest) / (largest[0] * largest[1]) * 1e6 / 1e9
    done(1)
    inference_ms, peak_memory_mb = {}, {}
    for index, (h, w) in enumerate(sizes):
        inference_ms[f"{h}x{w}"] = 1000 * inference_seconds(model, h, w, repeats)
        done(2 + 2 * index)
        peak_memory_mb[f"{h}x{w}"] = peak_memory(model, h, w) / 2**20
        done(3 + 2 * index)
    return {
        "parameters": parameters(model),
        "gflops_per_megapixel": gflops,
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        "inference_ms": inference_ms,
        "peak_memory_mb": peak_memory_mb,
    }
