"""Loading a trained model: from a recorded run (final checkpoint, hash-checked) or from
an exported model folder (`registry export`), which needs no registry at all."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from denoiser.checkpoints import weights_from_bytes
from denoiser.config import ConfigError, ExperimentConfig, config_from_dict
from denoiser.determinism import configure
from denoiser.networks import build_network
from registry.artifacts import read_verified
from registry.errors import RegistryError
from registry.models import Run
from registry.runs import get_run, recorded_config
from registry.workspace import Workspace


def final_weights(workspace: Workspace, run: Run) -> tuple[bytes, str]:
    """The final checkpoint's bytes and sha256, refusing a file that changed."""
    if run.status != "finished" or not run.checkpoints:
        raise RegistryError(f"run {run.id} is {run.status}; it has no final model yet")
    checkpoint = run.checkpoints[-1]
    weights = read_verified(workspace, checkpoint.path, checkpoint.sha256, f"final checkpoint of run {run.id}")
    return weights, checkpoint.sha256


def load_model(config: ExperimentConfig, weights: bytes) -> nn.Module:
    """The network in eval mode, channels-last as trained, on the config's recorded thread count."""
    configure(config.train.seed, config.train.threads)
    model = build_network(config.model)
    weights_from_bytes(model, weights)
    return model.to(memory_format=torch.channels_last).eval()


def load_run_model(workspace: Workspace, run: Run) -> tuple[ExperimentConfig, nn.Module, str]:
    config = recorded_config(run)
    weights, digest = final_weights(workspace, run)
    return config, load_model(config, weights), digest


MODEL_FILE = "provenoise-model.json"  # marks an exported model folder
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 1


@dataclass
class LoadedModel:
    config: ExperimentConfig
    network: nn.Module
    weights_sha256: str
    run_id: str | None
    source: str  # "run" or the model folder
    record: dict[str, Any] = field(default_factory=dict)  # what the model folder says about its run


def is_model_folder(path: Path) -> bool:
    return (path / MODEL_FILE).is_file()


def load_model_folder(folder: Path) -> LoadedModel:
    try:
        meta = json.loads((folder / MODEL_FILE).read_text())
        config = config_from_dict(meta["config"])
    except (OSError, ValueError, KeyError, ConfigError) as exc:
        raise RegistryError(f"{folder} is not a usable model folder: {exc}") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise RegistryError(f"{folder}: model format {meta.get('format_version')!r} is not supported")
    weights = (folder / WEIGHTS_FILE).read_bytes()
    digest = hashlib.sha256(weights).hexdigest()
    if digest != meta.get("weights_sha256"):
        raise RegistryError(
            f"{folder / WEIGHTS_FILE}: sha256 {digest}, the model folder records {meta.get('weights_sha256')}"
        )
    return LoadedModel(config, load_model(config, weights), digest, meta.get("run_id"), str(folder), meta)


def resolve_model(reference: str, workspace: Workspace | None) -> LoadedModel:
    """A model folder path, or a run id (prefix) of the workspace's registry."""
    path = Path(reference)
    if path.is_dir():
        if is_model_folder(path):
            return load_model_folder(path)
        raise RegistryError(f"{reference} is a folder but not an exported model (no {MODEL_FILE})")
    if workspace is None:
        raise RegistryError(f"{reference!r} is not a model folder, and there is no workspace here to look up a run")
    with workspace.store().reader() as session:
        run = get_run(session, reference)
    config, network, digest = load_run_model(workspace, run)
    return LoadedModel(config, network, digest, run.id, "run")
