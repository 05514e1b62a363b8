"""registry audit"""

from __future__ import annotations

from typing import Annotated

import typer

from registry.cli.options import DbOption, JsonOption
from registry.cli.ui import UI
from registry.workspace import find_workspace


def register(app: typer.Typer) -> None:
    app.command("audit", epilog="Example: registry audit 20261126-060112-3fa9c1 --json")(audit)


def audit(
    run: Annotated[str, typer.Argument(help="Run id or a unique prefix.")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a run's files, re-execute it from its record, and compare.

    Exit 0 when IDENTICAL or EQUIVALENT, 1 when DIVERGED or INTEGRITY_FAILED.
    """
    from audits.audit import audit_run

    ui = UI(as_json)
    result = audit_run(find_workspace(db_url=db), run, ui)
    data = {
        "run": result.run_id,
        "verdict": result.verdict,
        "reason": result.reason,
        "seconds": round(result.seconds, 2),
        "notes": result.notes,
        "differences": result.differences,
        "audit_id": result.audit_id,
    }

    def render() -> None:
        ui.line(f"{result.verdict}: {result.reason}")
        for note in result.notes:
            ui.line(f"  note: {note}")
        for difference in result.differences[:10]:
            ui.line(f"  - {difference.get('description') or difference}")
        ui.line(f"audited run {result.run_id} in {result.seconds:.1f} s")

    ui.result(data, render)
    raise typer.Exit(0 if result.passed else 1)
