"""registry ablate"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.cli.options import DbOption, JsonOption
from registry.cli.ui import UI
from registry.workspace import find_workspace


def register(app: typer.Typer) -> None:
    app.command("ablate", epilog="Example: registry ablate configs/ablations/ --set train.steps=500")(ablate_)


def ablate_(
    folder: Annotated[Path, typer.Argument(help="Folder of variant configs (base.yaml holds shared settings).")],
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Override for every variant: key=value.")] = None,
    sigma: Annotated[float, typer.Option("--sigma", help="Noise level of the table.")] = 25.0,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Train and evaluate every variant as a registered run, then print the ablation table (Table 4)."""
    from registry.ablation import ablate
    from registry.runs import show_run
    from registry.tables import table4

    ui = UI(as_json)
    workspace = find_workspace(db_url=db)
    family, run_ids = ablate(workspace, folder, overrides or [], ui)
    rows = table4([show_run(workspace, run_id) for run_id in run_ids], sigma)
    ui.result(
        {"family": family, "runs": run_ids, "table4": rows},
        lambda: ui.rows_table(f"Table 4: ablations ({family})", rows),
    )
