"""`registry export`: a self-contained model folder that `registry denoise` accepts.

The folder holds the final weights (byte for byte the recorded checkpoint), the run's
record as JSON, and a short model card, so the model can be used, and questioned, on a
machine with no registry history.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from registry.data_summary import training_data
from registry.environment import code_version
from registry.errors import RegistryError
from registry.model_card import model_card
from registry.run_models import FORMAT_VERSION, MODEL_FILE, WEIGHTS_FILE, final_weights
from registry.runs import get_run, recorded_config
from registry.views import run_detail
from registry.workspace import Workspace


def check_target(out: Path, workspace: Workspace, force: bool) -> Path:
    """The resolved export folder; only an empty folder or an earlier export may be replaced."""
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise RegistryError(f"{out} exists and is not a folder")
    if out == workspace.root or out in Path.cwd().resolve().parents or out == Path.cwd().resolve():
        raise RegistryError(f"refusing to export into {out}: it holds the workspace or the current folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MODEL_FILE).is_file():
            raise RegistryError(f"{out} is not empty and is not an exported model; choose another folder")
        if not force:
            raise RegistryError(f"{out} already holds an exported model; pass --force to replace it")
    return out


def export_run(workspace: Workspace, run_ref: str, out: Path, force: bool = False) -> Path:
    out = check_target(out, workspace, force)
    with workspace.store().reader() as session:
        run = get_run(session, run_ref)
        data = training_data(session, run)
    config = recorded_config(run)
    weights, digest = final_weights(workspace, run)
    detail = run_detail(run)
    latest_audit = run.audits[-1].verdict if run.audits else None
    meta: dict[str, Any] = {
        "format": "provenoise-model",
        "format_version": FORMAT_VERSION,
        "run_id": run.id,
        "name": run.name,
        "weights_file": WEIGHTS_FILE,
        "weights_sha256": digest,
        "config": config.to_dict(),
        "trained_sigma_range": [config.noise.sigma_min, config.noise.sigma_max],
        "training_data": data,
        "latest_audit": latest_audit,
        "exported_by_code": code_version(),
    }
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / WEIGHTS_FILE).write_bytes(weights)
    (staging / MODEL_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n")
    # Per-image rows stay in the registry; the local path of the config file means nothing elsewhere.
    record = {key: value for key, value in detail.items() if key not in ("metrics", "config_path")}
    (staging / "run.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    (staging / "MODEL_CARD.md").write_text(model_card(detail, data, digest))
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return out
