"""Loading a trained network: from a recorded run (final checkpoint, hash-checked) or from
the bytes of an exported model folder (registry.model_folders reads and checks those)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from denoiser.checkpoints import weights_from_bytes
from denoiser.config import ExperimentConfig
from denoiser.determinism import configure
from denoiser.networks import build_network
from registry.artifacts import read_verified
from registry.errors import RegistryError
from registry.models import Run
from registry.runs import recorded_config
from registry.workspace import Workspace


def final_weights(workspace: Workspace, run: Run) -> tuple[bytes, str]:
    """The final checkpoint's bytes and sha256, refusing a file that changed."""
    if run.status != "finished" or not run.checkpoints:
        raise RegistryError(f"run {run.id} is {run.status}; it has no final model yet")
    checkpoint = run.checkpoints[-1]
    weights = read_verified(workspace, checkpoint.path, checkpoint.sha256, f"final checkpoint of run {run.id}")
    return weights, checkpoint.sha256


def load_model(config: ExperimentConfig, weights: bytes) -> nn.Module:
    """The network in eval mode, channels-last as trained, on the config's recorded thread count,
    at most this machine's cores (a model folder is untrusted: 100,000 threads exhaust the
    process). Audits never come here: they re-execute with the recorded count (audits/replay)."""
    configure(config.train.seed, min(config.train.threads, os.cpu_count() or 1))
    model = build_network(config.model)
    try:
        weights_from_bytes(model, weights)
    except (RuntimeError, ValueError) as exc:  # another architecture's tensors, or not safetensors at all
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RegistryError(f"the weights do not fit the {config.model.name} its config describes: {first}") from None
    return model.to(memory_format=torch.channels_last).eval()


def load_run_model(workspace: Workspace, run: Run) -> tuple[ExperimentConfig, nn.Module, str]:
    config = recorded_config(run)
    weights, digest = final_weights(workspace, run)
    return config, load_model(config, weights), digest


MODEL_FILE = "provenoise-model.json"  # marks an exported model folder
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 1


REGISTRY_CLAIMS = "registry"  # facts read from this registry's records
VERIFIED_CLAIMS = "verified"  # a model folder signed under an anchor the user trusts
SELF_DECLARED_CLAIMS = "self-declared"  # a folder used with --unverified-model: its word only


@dataclass
class LoadedModel:
    config: ExperimentConfig
    network: nn.Module
    weights_sha256: str
    run_id: str | None
    source: str  # "run" or the model folder
    record: dict[str, Any] = field(default_factory=dict)  # what the model folder says about its run
    claims: str = REGISTRY_CLAIMS  # how far the facts about its run can be believed
    signature: dict[str, Any] | None = None  # the model folder's signature check
    in_registry: bool = False  # its run is recorded in the workspace's registry, with these weights
