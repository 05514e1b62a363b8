"""Options every command shares."""

from __future__ import annotations

from typing import Annotated

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL; default $REGISTRY_DB_URL, then the workspace's own.", show_default=False),
]
