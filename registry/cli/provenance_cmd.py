"""registry keys init|show, registry verify"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.cli.options import DbOption, JsonOption, optional_workspace
from registry.cli.ui import UI
from registry.signing_keys import init_keys, show_keys
from registry.verifying import verify_files

keys_app = typer.Typer(help="Signing credentials (development CA and signer).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.command("verify", epilog="Example: registry verify denoised/*.png --trust partner-ca.pem")(verify)


@keys_app.command("init", epilog="Example: registry keys init")
def keys_init(
    force: Annotated[bool, typer.Option("--force", help="Replace existing development keys.")] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a development CA and signing certificate (ES256; private keys mode 0600)."""
    ui = UI(as_json)
    workspace = optional_workspace(db)
    folder = init_keys(workspace, force)
    info = show_keys(workspace)
    ui.result(info, lambda: [ui.line(f"development signing keys written to {folder}"), _render_chain(ui, info)])


@keys_app.command("show", epilog="Example: registry keys show --json")
def keys_show(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show the signing certificate and its CA: subject, issuer, validity, fingerprint (never the key)."""
    ui = UI(as_json)
    info = show_keys(optional_workspace(db))
    ui.result(info, lambda: _render_chain(ui, info))


def _render_chain(ui: UI, info: dict) -> None:
    for role, certificate in zip(("signer", "CA"), info["chain"]):
        ui.fields(f"{role} certificate ({info['folder']})", list(certificate.items()))


def verify(
    files: Annotated[list[Path], typer.Argument(help="Signed images to check.", show_default=False)],
    trust: Annotated[list[Path] | None, typer.Option("--trust", help="Also trust this CA (PEM); repeatable.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Verify signature, certificate chain and data hash of each file, then cross-check the registry.

    Exit 0 when every file verifies, 1 when any does not, 2 for usage errors.
    """
    ui = UI(as_json)
    reports = verify_files(files, optional_workspace(db), trust or [])
    summaries = [report.summary() for report in reports]

    def render() -> None:
        for s in summaries:
            ui.line(f"{'OK  ' if s['ok'] else 'FAIL'} {s['file']}: {s['reason']}")
            if s["signed_by"]:
                ui.line(f"     signed by {s['signed_by']} ({s['issuer']}); run {s['run']} ({s['model']})")
                ui.line(f"     trained on {', '.join(s['trained_on']) or 'unknown'}; consent {s['consent']}")
                ui.line(
                    f"     audit at signing: {s['latest_audit'] or 'none'}; training/mining: {s['training_mining']}"
                )
            for note in s["notes"]:
                ui.line(f"     {note}")

    ui.result(summaries, render)
    raise typer.Exit(0 if all(report.ok for report in reports) else 1)
