"""Files the registry writes: content-addressed weights and per-run training states.

Writes are atomic (temporary file, then rename), so a crash never leaves a partial
file under a final name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from denoiser.images import ChannelError, ImageError, load_image
from registry.errors import RegistryError
from registry.workspace import Workspace


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())  # on disk before the rename makes it the checkpoint a record names
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def store_weights(workspace: Workspace, weights: bytes) -> tuple[str, str]:
    """Save weights under their own sha256; returns (sha256, workspace-relative path)."""
    digest = hashlib.sha256(weights).hexdigest()
    path = workspace.checkpoint_dir / f"{digest}.safetensors"
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        write_atomic(path, weights)
    return digest, workspace.relative(path)


def store_state(workspace: Workspace, run_id: str, step: int, state: bytes) -> tuple[str, str]:
    path = workspace.state_dir(run_id) / f"step-{step:08d}.safetensors"
    write_atomic(path, state)
    return hashlib.sha256(state).hexdigest(), workspace.relative(path)


def read_verified(workspace: Workspace, relative: str, expected: str, what: str) -> bytes:
    """A recorded file's bytes, refusing a missing file or one whose sha256 changed."""
    path = workspace.resolve(relative)
    if not path.is_file():
        raise RegistryError(f"{what} is missing at {relative}; `registry audit` can tell what else changed")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise RegistryError(f"{what} at {relative} changed: sha256 {actual}, recorded {expected}")
    return data


def load_verified_image(workspace: Workspace, key: str, relative: str, expected: str, channels: int) -> np.ndarray:
    """A recorded image with a model's channels (gray (H, W), RGB (H, W, 3)), after checking its hash."""
    read_verified(workspace, relative, expected, f"image {key}")
    try:
        return load_image(workspace.resolve(relative), channels)
    except ChannelError as exc:
        raise RegistryError(
            f"model.channels is 3 (RGB) but image {key} is gray (mode {exc.mode}); "
            "use colour images or model.channels: 1"
        ) from None
    except ImageError as exc:
        raise RegistryError(f"image {key}: {exc}") from None
