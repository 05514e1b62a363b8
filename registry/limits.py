"""Limits on what an input may ask of this machine (kept free of heavy imports: the CLI's options read them)."""

from __future__ import annotations

from registry.workspace import Workspace, setting

DEFAULT_MAX_PIXELS = 120_000_000  # a 100-megapixel camera (11648 x 8736) fits


def pixel_budget(workspace: Workspace | None) -> int:
    """The workspace's `max-pixels` setting, else the default (a 100 MP photo fits)."""
    configured = setting(workspace.root, "max-pixels") if workspace is not None else None
    return int(configured) if configured else DEFAULT_MAX_PIXELS
