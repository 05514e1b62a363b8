"""registry denoise, registry export"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.cli.options import DbOption, JsonOption
from registry.cli.ui import UI
from registry.denoising import DenoiseOptions, check_options, denoise_files
from registry.errors import RegistryError
from registry.exporting import export_run
from registry.run_models import resolve_model
from registry.workspace import Workspace, find_workspace


def register(app: typer.Typer) -> None:
    app.command(
        "denoise",
        epilog="Example: registry denoise models/reference noisy.png --out denoised/ --sigma 25",
    )(denoise)
    app.command("export", epilog="Example: registry export 20261126-0601 --out models/my-model")(export)


def _optional_workspace(db: str | None) -> Workspace | None:
    try:
        return find_workspace(db_url=db)
    except RegistryError:
        return None  # outside any workspace: denoise works, nothing is recorded


def denoise(
    model: Annotated[str, typer.Argument(help="Run id (prefix) or an exported model folder.")],
    inputs: Annotated[list[Path], typer.Argument(help="8- or 16-bit PNG, JPEG or TIFF files.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Folder for the outputs (PNG, the input's name).")],
    sigma: Annotated[float | None, typer.Option("--sigma", help="Noise level on the 8-bit scale.")] = None,
    blind: Annotated[bool, typer.Option("--blind", help="Estimate sigma from each image.")] = False,
    estimator: Annotated[str, typer.Option("--estimator", help="Blind-mode estimator: pca or mad.")] = "pca",
    steps: Annotated[int, typer.Option("--steps", help="Annealed denoising steps K (1 = one step).")] = 1,
    bits: Annotated[int, typer.Option("--bits", help="Output bit depth: 8 or 16.")] = 8,
    no_sign: Annotated[
        bool, typer.Option("--no-sign", help="Do not sign outputs (signing is not available yet).")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Denoise images with a recorded run or an exported model; outputs are recorded inside a workspace."""
    ui = UI(as_json)
    options = DenoiseOptions(sigma, blind, estimator, steps, bits)
    check_options(options)  # before loading anything
    workspace = _optional_workspace(db)
    loaded = resolve_model(model, workspace)
    done = denoise_files(loaded, inputs, out, options, workspace, ui)
    rows = [
        {
            "input": str(d.input),
            "output": str(d.output),
            "sigma": d.sigma,
            "sigma_estimated": d.sigma_estimated,
            "input_sha256": d.input_sha256,
            "output_sha256": d.output_sha256,
        }
        for d in done
    ]
    recorded = workspace is not None
    ui.result(
        {"model": loaded.source, "run": loaded.run_id, "recorded": recorded, "outputs": rows},
        lambda: [
            ui.table(None, ("input", "output", "sigma"), [(r["input"], r["output"], r["sigma"]) for r in rows]),
            ui.line(
                f"{len(rows)} output(s) written to {out}"
                + (" and recorded" if recorded else " (not recorded: no workspace)")
            ),
        ],
    )


def export(
    run: Annotated[str, typer.Argument(help="Run id or a unique prefix.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the model into.")],
    force: Annotated[bool, typer.Option("--force", help="Replace the folder's contents.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a self-contained model folder: weights, the run's record, a model card."""
    ui = UI(as_json)
    folder = export_run(find_workspace(db_url=db), run, out, force)
    files = sorted(p.name for p in folder.iterdir())
    ui.result({"folder": str(folder), "files": files}, lambda: ui.line(f"exported to {folder}: {', '.join(files)}"))
