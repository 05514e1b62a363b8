"""registry report"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.cli.options import DbOption, ForceOption, JsonOption
from registry.cli.ui import UI
from registry.vocabulary import DEFAULT_POWER_WATTS
from registry.workspace import find_workspace


def register(app: typer.Typer) -> None:
    app.command(
        "report",
        epilog="Example: registry report 20261126-0601 --format html --out report.html "
        "(several runs: a side-by-side comparison)",
    )(report)


def report(
    runs: Annotated[list[str], typer.Argument(help="Run ids (or unique prefixes); several give a comparison.")],
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    format: Annotated[str, typer.Option("--format", help="html (self-contained), md (model card) or json.")] = "html",
    power_watts: Annotated[
        float, typer.Option("--power-watts", help="Power figure for the energy estimate (a stated assumption).")
    ] = DEFAULT_POWER_WATTS,
    force: ForceOption = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a transparency report (model card) drawn from the registry's records."""
    from registry.reports.build import write_report

    ui = UI(as_json)
    path = write_report(find_workspace(db_url=db), runs, format, out, power_watts, force)
    ui.result({"report": str(path), "format": format, "runs": runs}, lambda: ui.line(f"wrote {path}"))
