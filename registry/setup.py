"""`registry init`: create or adopt a workspace, then bring records made by older versions up to date."""

from __future__ import annotations

from pathlib import Path

from registry.datasets import backfill_content_hashes
from registry.workspace import Workspace, init_workspace, set_setting


def set_up_workspace(
    path: Path, db_url: str | None = None, training_mining: str | None = None, tsa_url: str | None = None
) -> tuple[Workspace, list[str]]:
    """The workspace at `path`, its schema current and its images' content hashes filled in."""
    workspace, done = init_workspace(path, db_url, training_mining)
    if tsa_url:
        done.append(f"signatures time-stamped by {set_setting(workspace.root, 'tsa-url', tsa_url)}")
    if filled := backfill_content_hashes(workspace, workspace.store()):
        done.append(f"hashed the pixels of {filled} image(s) recorded before content hashes")
    return workspace, done
