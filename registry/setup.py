"""`registry init`: create or adopt a workspace, then bring records made by older versions up to date."""

from __future__ import annotations

from pathlib import Path

from registry.datasets import backfill_content_hashes
from registry.workspace import Workspace, check_setting, init_workspace, set_setting


def set_up_workspace(
    path: Path,
    db_url: str | None = None,
    training_mining: str | None = None,
    tsa_url: str | None = None,
    withdrawn_models: str | None = None,
) -> tuple[Workspace, list[str]]:
    """The workspace at `path`, its schema current and its images' content hashes filled in."""
    if withdrawn_models:
        check_setting("withdrawn-models", withdrawn_models)  # before anything is created
    workspace, done = init_workspace(path, db_url, training_mining)
    if tsa_url:
        done.append(f"signatures time-stamped by {set_setting(workspace.root, 'tsa-url', tsa_url)}")
    if withdrawn_models:
        policy = set_setting(workspace.root, "withdrawn-models", withdrawn_models)
        done.append(f"models trained on since-withdrawn data: {policy} when used by `registry denoise`")
    if filled := backfill_content_hashes(workspace, workspace.store()):
        done.append(f"hashed the pixels of {filled} image(s) recorded before content hashes")
    return workspace, done
