"""`registry export`: a self-contained model folder that `registry denoise` accepts.

The folder holds the final weights (byte for byte the recorded checkpoint), the run's
record as JSON, and a short model card, so the model can be used, and questioned, on a
machine with no registry history; and `model.sig`, their OpenSSF model signature with
the workspace's key (or --cert/--key), so whoever uses it can check that the claims are
the registry's and not somebody's edit. The folder is built in a private staging folder
beside the target and renamed into place.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from provenance.keys import SigningCredentials, describe
from provenance.model_signatures import ModelSignatureError, sign_folder
from registry.data_summary import training_data
from registry.db import utcnow
from registry.environment import code_version, current_user
from registry.errors import RegistryError
from registry.files import current_umask
from registry.identity import registry_id
from registry.model_card import model_card
from registry.models import Export
from registry.reference_check import reference_check
from registry.run_models import FORMAT_VERSION, MODEL_FILE, WEIGHTS_FILE, final_weights, load_model
from registry.runs import get_run, recorded_config
from registry.views import run_detail
from registry.workspace import Workspace, setting


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


def export_run(
    workspace: Workspace,
    run_ref: str,
    out: Path,
    force: bool = False,
    credentials: SigningCredentials | None = None,
    include_personal: bool = False,
) -> Path:
    """Write the model folder; signed when credentials are given. Who trained it (OS user,
    git name and e-mail) and paths on this machine stay out unless `include_personal`."""
    out = check_target(out, workspace, force)
    with workspace.store().reader() as session:
        run = get_run(session, run_ref)
        data = training_data(session, run)
        workspace_id = registry_id(session)
    config = recorded_config(run)
    weights, digest = final_weights(workspace, run)
    check = reference_check(load_model(config, weights), config)  # a figure anyone can re-run on the folder
    detail = shareable(run_detail(run), include_personal, workspace.root)
    latest_audit = run.audits[-1].verdict if run.audits else None
    meta: dict[str, Any] = {
        "format": "provenoise-model",
        "format_version": FORMAT_VERSION,
        "run_id": run.id,
        "workspace_id": workspace_id,  # the registry that can vouch for this run
        "name": run.name,
        "weights_file": WEIGHTS_FILE,
        "weights_sha256": digest,
        "config": config.to_dict(),
        "trained_sigma_range": [config.noise.sigma_min, config.noise.sigma_max],
        "training_data": data,
        "latest_audit": latest_audit,
        "exported_by_code": code_version(),
        "reference_check": check,
    }
    location = setting(workspace.root, "withdrawals-location")
    if location:  # where whoever holds the folder checks for withdrawals since (registry.withdrawals)
        meta["withdrawals_location"] = location
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        _write_folder(staging, weights, meta, detail, data, digest, credentials)
        if out.exists():
            shutil.rmtree(out)
        staging.chmod(0o777 & ~current_umask())  # mkdtemp makes it 0700; the folder is meant to be shared
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _record(workspace, run.id, out, digest, credentials, meta)
    return out


PERSONAL_FIELDS = ("user", "config_path")  # who trained (names, e-mail), and a path on their machine
LOCAL_CHECKPOINT_FIELDS = ("path", "state_path")  # where this workspace keeps them: nothing elsewhere


def shareable(detail: dict[str, Any], include_personal: bool, workspace_root: Path) -> dict[str, Any]:
    """A run's detail as a folder meant for others carries it: no names, e-mail or local paths
    (recorded messages, such as why a metric was unavailable, can hold a home folder's path)."""
    if include_personal:
        return detail
    shared = {key: value for key, value in detail.items() if key not in PERSONAL_FIELDS}
    shared["checkpoints"] = [
        {key: value for key, value in checkpoint.items() if key not in LOCAL_CHECKPOINT_FIELDS}
        for checkpoint in detail.get("checkpoints", [])
    ]
    return _without_local_paths(shared, {str(workspace_root): "<workspace>", str(Path.home()): "~"})


def _without_local_paths(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _without_local_paths(item, replacements) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_local_paths(item, replacements) for item in value]
    if isinstance(value, str):
        for local, shown in replacements.items():  # the workspace first: it may lie in the home folder
            value = value.replace(local, shown)
    return value


def _record(
    workspace: Workspace,
    run_id: str,
    out: Path,
    digest: str,
    credentials: SigningCredentials | None,
    meta: dict[str, Any],
) -> None:
    """The export as a record, so lineage and withdrawals reach the folder once it has left."""
    signer = None
    if credentials is not None:
        leaf = describe(credentials.chain_pem)[0]
        signer = {"subject": leaf["subject"], "sha256_fingerprint": leaf["sha256_fingerprint"]}
    inside = out.is_relative_to(workspace.root)
    with workspace.store().transaction() as session:
        session.add(
            Export(
                run_id=run_id,
                path=workspace.relative(out) if inside else str(out),
                weights_sha256=digest,
                signed=credentials is not None,
                signer=signer,
                withdrawals_location=meta.get("withdrawals_location"),
                user=current_user(workspace.root),
                created_at=utcnow(),
            )
        )


def _write_folder(
    staging: Path,
    weights: bytes,
    meta: dict[str, Any],
    detail: dict[str, Any],
    data: dict[str, Any],
    digest: str,
    credentials: SigningCredentials | None,
) -> None:
    (staging / WEIGHTS_FILE).write_bytes(weights)
    (staging / MODEL_FILE).write_text(json.dumps(meta, indent=2, default=str) + "\n")
    record = {key: value for key, value in detail.items() if key != "metrics"}  # per-image rows stay here
    (staging / "run.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    (staging / "MODEL_CARD.md").write_text(model_card(detail, data, digest))
    if credentials is not None:
        try:
            sign_folder(staging, credentials)
        except ModelSignatureError as exc:
            raise RegistryError(str(exc)) from None
