"""Model folders with random weights, for tests of how photos go in and out (shapes, modes,
metadata), not of denoising quality: built in seconds, no training."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from denoiser.checkpoints import weights_to_bytes
from denoiser.config import config_from_dict
from denoiser.networks import build_network
from provenance.keys import CA_CERT, create_development_keys, load_development_keys
from registry.model_folders import sign_model_folder
from registry.run_models import FORMAT_VERSION, MODEL_FILE, WEIGHTS_FILE


def random_model_folder(folder: Path, keys: Path, identity: bool = False, **model: object) -> Path:
    """A signed model folder (trust `keys`/CA_CERT) of a tiny network; `identity`: it returns its input.

    A residual network whose last layer is zero predicts no noise, so its output is its input
    exactly: what goes out then shows, bit for bit, what was read in.
    """
    config = config_from_dict({"name": "photo-test", "model": {"depth": 3, "base_channels": 4, **model}})
    torch.manual_seed(0)
    network = build_network(config.model)
    with torch.no_grad():
        last = network.tail if hasattr(network, "tail") else network.body[-1]
        for parameter in network.parameters():  # unit gain: the default init leaves every block the identity
            fan_in = parameter[0].numel() if parameter.ndim > 1 else 1
            parameter.normal_(0, fan_in**-0.5)
        last.weight *= 0.0 if identity else 0.02  # a residual of a denoiser's size
        last.bias *= 0.0 if identity else 0.02
    weights = weights_to_bytes(network)
    folder.mkdir(parents=True)
    (folder / WEIGHTS_FILE).write_bytes(weights)
    record = {
        "format": "provenoise-model",
        "format_version": FORMAT_VERSION,
        "run_id": None,
        "weights_file": WEIGHTS_FILE,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "config": config.to_dict(),
        "trained_sigma_range": [5.0, 50.0],
    }
    (folder / MODEL_FILE).write_text(json.dumps(record, indent=2))
    credentials = load_development_keys(keys) if (keys / CA_CERT).exists() else create_development_keys(keys)
    sign_model_folder(folder, credentials)
    return folder
