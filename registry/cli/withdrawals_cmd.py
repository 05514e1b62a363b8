"""registry withdrawals publish"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.cli.options import DbOption, JsonOption
from registry.cli.ui import UI
from registry.workspace import find_workspace

withdrawals_app = typer.Typer(
    help="Signed withdrawal lists (a revocation list for training data).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(withdrawals_app, name="withdrawals")


@withdrawals_app.command(
    "publish", epilog="Example: registry withdrawals publish --out /srv/www/withdrawals.json --force"
)
def withdrawals_publish(
    out: Annotated[Path, typer.Option("--out", help="File to write the signed list to.")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    cert: Annotated[Path | None, typer.Option("--cert", help="Signing certificate chain (PEM).")] = None,
    key: Annotated[Path | None, typer.Option("--key", help="Signing private key (PEM).")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write the registry's withdrawal list, signed with the workspace's key (or --cert/--key).

    It names the withdrawn pictures (content hashes and image keys) and the runs whose weights
    depend on them (run id, final checkpoint), so that `registry denoise` and `registry verify`
    elsewhere can tell that a model, or an output's model, was trained on since-withdrawn data.
    Publish it where the workspace's `withdrawals-location` setting says (exported models record it).
    """
    from registry.signing_keys import folder_credentials
    from registry.withdrawals import publish

    ui = UI(as_json)
    workspace = find_workspace(db_url=db)
    published = publish(workspace, out, folder_credentials(workspace, cert, key, ui), force)
    info = published.summary()
    ui.result(
        info,
        lambda: ui.line(
            f"withdrawal list written to {info['file']}: {info['withdrawn_pictures']} withdrawn picture(s), "
            f"{info['affected_runs']} affected run(s), signed by {info['signer']} at {info['signed_at']}"
        ),
    )
