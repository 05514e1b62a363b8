"""registry train"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.cli.options import DbOption, JsonOption
from registry.cli.ui import UI
from registry.errors import RegistryError
from registry.workspace import find_workspace


def register(app: typer.Typer) -> None:
    app.command(
        "train",
        epilog="Example: registry train configs/quickstart.yaml --set train.steps=300 --set train.seed=1 "
        "(or: registry train --successor 20261126-0601)",
    )(train)


def train(
    config: Annotated[Path | None, typer.Argument(help="Experiment config (YAML).", show_default=False)] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override a config field: key=value (repeatable).")
    ] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="Continue a failed or interrupted run.")] = None,
    successor: Annotated[
        str | None,
        typer.Option(
            "--successor",
            help="Re-train a finished run's recorded config, seeds and split without the images withdrawn since.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="With --successor: re-train even when no image it trained on is withdrawn."),
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Refuse to train when any image's consent is withdrawn.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Train a denoiser from a config, recording data, code, environment, checkpoints and metrics.

    `--successor RUN` trains a replacement for a model whose training data lost its consent:
    RUN's config, seeds and split less the withdrawn images, linked to RUN both ways.
    The run id is printed alone on the last line of stdout.
    """
    from registry.tracking import resume_run, train_run, train_successor

    ui = UI(as_json)
    if force and not successor:
        raise RegistryError("--force goes with --successor RUN")
    workspace = find_workspace(db_url=db)
    if successor:
        if config is not None or overrides or resume or strict:
            raise RegistryError("--successor re-trains a recorded run; give no config, --set, --resume or --strict")
        run_id = train_successor(workspace, successor, force, ui)
    elif resume:
        if config is not None or overrides:
            raise RegistryError("--resume continues a recorded run; give no config or --set with it")
        run_id = resume_run(workspace, resume, ui)
    elif config is None:
        raise RegistryError("missing CONFIG (or --resume RUN, or --successor RUN)")
    else:
        run_id = train_run(workspace, config, overrides or [], strict, ui)
    ui.result({"run": run_id}, lambda: ui.line(run_id))
