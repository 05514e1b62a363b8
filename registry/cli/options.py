"""Options every command shares."""

from __future__ import annotations

from typing import Annotated

import typer

from registry.db_urls import PASSWORD_ADVICE, has_password
from registry.errors import RegistryError
from registry.limits import DEFAULT_MAX_PIXELS
from registry.workspace import Workspace, find_workspace

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def _warn_of_password(url: str | None) -> str | None:
    if url and has_password(url):
        # Other users of the machine see command lines (ps) and shells keep them (history).
        typer.echo(f"warning: a password on the command line is visible to others; {PASSWORD_ADVICE}", err=True)
    return url


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL; default $REGISTRY_DB_URL, then the workspace's own. Passwords: PGPASSWORD or ~/.pgpass.",
        show_default=False,
        callback=_warn_of_password,
    ),
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Replace existing output files (never through a symbolic link).")
]
MaxPixelsOption = Annotated[
    int | None,
    typer.Option(
        "--max-pixels",
        help="Refuse images over N pixels, checked before decoding "
        f"(default: the max-pixels setting, else {DEFAULT_MAX_PIXELS:,}).",
    ),
]


def optional_workspace(db: str | None) -> Workspace | None:
    """The workspace around the current folder, or None outside any (nothing gets recorded)."""
    try:
        return find_workspace(db_url=db)
    except RegistryError:
        return None
