"""registry init"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.cli.options import DbOption, JsonOption
from registry.cli.ui import UI
from registry.starter import STARTER_NAME, ensure_starter
from registry.workspace import init_workspace


def register(app: typer.Typer) -> None:
    app.command(
        "init",
        epilog="Example: registry init my-workspace --db postgresql://postgres@127.0.0.1:5432/test",
    )(init)


def init(
    path: Annotated[Path, typer.Argument(help="Folder to create or adopt.")] = Path("."),
    db: DbOption = None,
    starter: Annotated[bool, typer.Option("--starter/--no-starter", help="Import the starter dataset.")] = True,
    training_mining: Annotated[
        str | None,
        typer.Option(
            "--training-mining", help="Policy signed outputs declare: allowed, notAllowed (default), constrained."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create (or adopt) a workspace: git, DVC, the registry database and the starter dataset."""
    ui = UI(as_json)
    workspace, done = init_workspace(path, db, training_mining)
    if starter:
        with ui.progress("importing the starter dataset", None) as update:
            added = ensure_starter(workspace, lambda n, total: update(n, total=total))
        done.append(f"dataset '{STARTER_NAME}' " + ("imported into data/starter" if added else "already registered"))
    ui.result(
        {"workspace": str(workspace.root), "done": done},
        lambda: [ui.line(f"workspace ready at {workspace.root}"), *[ui.line(f"  - {item}") for item in done]],
    )
