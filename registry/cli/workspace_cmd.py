"""registry init"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.cli.options import DbOption, JsonOption
from registry.cli.ui import UI
from registry.workspace import SETTINGS, find_workspace, set_setting, show_settings

config_app = typer.Typer(help="Workspace settings.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command(
        "init",
        epilog="Example: registry init my-workspace --db postgresql://postgres@127.0.0.1:5432/test "
        "--withdrawn-models refuse",
    )(init)
    app.add_typer(config_app, name="config")


@config_app.command(
    "set",
    epilog="Example: registry config set withdrawn-models refuse "
    "(or tsa-url http://timestamp.example.com, withdrawals-location https://example.org/withdrawals.json)",
)
def config_set(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(SETTINGS)}.")],
    value: Annotated[str, typer.Argument(help="The new value ('' to clear).")],
    as_json: JsonOption = False,
) -> None:
    """Change a workspace setting (kept in .registry/config.json)."""
    ui = UI(as_json)
    stored = set_setting(find_workspace().root, name, value)
    ui.result({"name": name, "value": stored}, lambda: ui.line(f"{name} = {stored or '(unset)'}"))


@config_app.command("show", epilog="Example: registry config show --json")
def config_show(as_json: JsonOption = False) -> None:
    """Show the workspace settings."""
    ui = UI(as_json)
    settings = show_settings(find_workspace().root)
    ui.result(settings, lambda: ui.fields("workspace settings", list(settings.items())))


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
    tsa_url: Annotated[
        str | None,
        typer.Option("--tsa-url", help="RFC 3161 time-stamp authority for every signature made here."),
    ] = None,
    withdrawn_models: Annotated[
        str | None,
        typer.Option(
            "--withdrawn-models",
            help="What `registry denoise` does with a model trained on since-withdrawn data: warn (default) or refuse.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create (or adopt) a workspace: git, DVC, the registry database and the starter dataset."""
    from registry.setup import set_up_workspace
    from registry.starter import STARTER_NAME, ensure_starter

    ui = UI(as_json)
    workspace, done = set_up_workspace(path, db, training_mining, tsa_url, withdrawn_models)
    if starter:
        with ui.progress("importing the starter dataset", None) as update:
            added = ensure_starter(workspace, lambda n, total: update(n, total=total))
        done.append(f"dataset '{STARTER_NAME}' " + ("imported into data/starter" if added else "already registered"))
    ui.result(
        {"workspace": str(workspace.root), "done": done},
        lambda: [ui.line(f"workspace ready at {workspace.root}"), *[ui.line(f"  - {item}") for item in done]],
    )
