"""`registry report RUN... --format html|md|json --out PATH`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from registry.errors import RegistryError
from registry.files import check_target, current_umask, refuse_registry_folders, write_new
from registry.lineage_picture import to_dot, to_svg
from registry.models import Run
from registry.reports import plots
from registry.reports.facts import report_facts
from registry.reports.grids import image_grids
from registry.reports.render import (
    Figure,
    RunMedia,
    render_html,
    render_json,
    render_markdown,
    write_markdown_assets,
)
from registry.runs import get_run
from registry.vocabulary import DEFAULT_POWER_WATTS
from registry.workspace import Workspace

FORMATS = ("html", "md", "json")


def _check_out(out: Path, force: bool, workspace: Workspace, assets: Path | None) -> None:
    """Refuse an output path that cannot be written, before any work: a folder, a missing or
    read-only folder, the registry's own folders, a link, an existing file without --force."""
    if out.is_dir() and not out.is_symlink():
        raise RegistryError(f"--out {out} is a folder; give a file name")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise RegistryError(f"--out {out}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise RegistryError(f"--out {out}: not writable")
    refuse_registry_folders(out, workspace.root)
    check_target(out, force)
    if assets is not None and (assets.is_symlink() or (assets.exists() and not force)):
        raise RegistryError(f"{assets} already exists; pass --force to replace it")


def _media(workspace: Workspace, runs: list[Run], facts: dict) -> tuple[list[RunMedia], list[Figure]]:
    media = []
    for index, (run, run_facts) in enumerate(zip(runs, facts["runs"])):
        results = run_facts["results"]
        figures = [
            Figure(f"run{index}-loss", "Training (dashed) and validation (solid) loss", plots.loss_curves([run_facts]))
        ]
        if results["test_split"]["methods"]:
            figures.append(
                Figure(
                    f"run{index}-psnr-sigma",
                    "Mean PSNR against sigma on the test split, model and baselines",
                    plots.psnr_against_sigma(results["test_split"]["methods"], "test split"),
                )
            )
        if results["test_split"]["table1"]:
            figures.append(
                Figure(
                    f"run{index}-gain",
                    "Per-image PSNR gain over the strongest baseline",
                    plots.psnr_gain(results["test_split"]["table1"]),
                )
            )
        grids = image_grids(workspace, run, results["table_sigma"]) if run.status == "finished" else []
        dot = to_dot(run_facts["lineage"])
        media.append(RunMedia(figures, grids, lineage_dot=dot, lineage_svg=to_svg(dot)))
    shared = [Figure("loss-all", "Loss curves of all runs", plots.loss_curves(facts["runs"]))] if len(runs) > 1 else []
    return media, shared


def write_report(
    workspace: Workspace,
    run_refs: list[str],
    format: str,
    out: Path,
    power_watts: float = DEFAULT_POWER_WATTS,
    force: bool = False,
) -> Path:
    if format not in FORMATS:
        raise RegistryError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    if not run_refs:
        raise RegistryError("name at least one run")
    if power_watts <= 0:
        raise RegistryError("--power-watts must be positive")
    out = Path(out)
    assets = out.with_name(out.stem + "_files") if format == "md" else None
    _check_out(out, force, workspace, assets)
    with workspace.store().reader() as session:
        runs = [get_run(session, ref) for ref in run_refs]
        facts = report_facts(session, [run.id for run in runs], power_watts)
    if format == "json":
        return write_new(out, render_json(facts).encode(), force)
    media, shared = _media(workspace, runs, facts)
    if format == "html":
        return write_new(out, render_html(facts, media, shared).encode(), force)
    _write_assets(assets, media, shared)
    return write_new(out, render_markdown(facts, media, assets.name).encode(), force)


def _write_assets(assets: Path, media: list[RunMedia], shared: list[Figure]) -> None:
    """The Markdown report's pictures, staged in a folder of their own and renamed into place."""
    staging = Path(tempfile.mkdtemp(prefix=f".{assets.name}.", suffix=".partial", dir=assets.parent))
    try:
        write_markdown_assets(staging, media, shared)
        staging.chmod(0o777 & ~current_umask())  # mkdtemp makes it 0700
        if assets.exists():  # with --force (checked before any work); never a link
            shutil.rmtree(assets)
        staging.rename(assets)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
