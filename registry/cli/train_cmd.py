"""registry train"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.cli.options import DbOption, JsonOption
from registry.cli.ui import UI
from registry.errors import RegistryError
from registry.tracking import resume_run, train_run
from registry.workspace import find_workspace


def register(app: typer.Typer) -> None:
    app.command(
        "train",
        epilog="Example: registry train configs/quickstart.yaml --set train.steps=300 --set train.seed=1",
    )(train)


def train(
    config: Annotated[Path | None, typer.Argument(help="Experiment config (YAML).", show_default=False)] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override a config field: key=value (repeatable).")
    ] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="Continue a failed or interrupted run.")] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse to train when any image's consent is withdrawn.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Train a denoiser from a config, recording data, code, environment, checkpoints and metrics.

    The run id is printed alone on the last line of stdout.
    """
    ui = UI(as_json)
    workspace = find_workspace(db_url=db)
    if resume:
        if config is not None or overrides:
            raise RegistryError("--resume continues a recorded run; give no config or --set with it")
        run_id = resume_run(workspace, resume, ui)
    elif config is None:
        raise RegistryError("missing CONFIG (or --resume RUN)")
    else:
        run_id = train_run(workspace, config, overrides or [], strict, ui)
    ui.result({"run": run_id}, lambda: ui.line(run_id))
