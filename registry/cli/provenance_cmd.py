"""registry keys init|show|trust|publisher, registry verify"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from registry.cli.options import DbOption, JsonOption, MaxPixelsOption, optional_workspace
from registry.cli.ui import UI

keys_app = typer.Typer(help="Signing credentials and the CAs you trust.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.command(
        "verify",
        epilog="Example: registry verify denoised/*.png models/reference --trust partner-ca.pem "
        "--withdrawals withdrawals.json",
    )(verify)


@keys_app.command("init", epilog="Example: registry keys init")
def keys_init(
    force: Annotated[bool, typer.Option("--force", help="Replace existing development keys.")] = False,
    keep_ca: Annotated[
        bool, typer.Option("--keep-ca", help="Also keep the CA's private key (else used once and dropped).")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a development CA and signing certificate (ES256; private keys mode 0600); you trust its CA.

    The CA's private key issues the signing certificate and is then dropped, unless --keep-ca.
    """
    from registry.signing_keys import init_keys, show_keys

    ui = UI(as_json)
    workspace = optional_workspace(db)
    folder = init_keys(workspace, force, keep_ca)
    info = show_keys(workspace) | {"ca_key_kept": keep_ca}
    kept = "the CA's private key kept (--keep-ca)" if keep_ca else "the CA's private key not kept"
    ui.result(info, lambda: [ui.line(f"development signing keys written to {folder}; {kept}"), _render_keys(ui, info)])


@keys_app.command("show", epilog="Example: registry keys show --json")
def keys_show(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show the signing certificate and its CA (never the key), and the CAs you trust."""
    from registry.signing_keys import show_keys

    ui = UI(as_json)
    info = show_keys(optional_workspace(db))
    ui.result(info, lambda: _render_keys(ui, info))


@keys_app.command("trust", epilog="Example: registry keys trust partner-ca.pem")
def keys_trust(
    certificate: Annotated[
        Path | None, typer.Argument(help="A CA certificate (PEM); default: this workspace's development CA.")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Trust a CA from now on (recorded in your own config, by its SHA-256 fingerprint)."""
    from registry.signing_keys import trust_workspace_ca

    ui = UI(as_json)
    trusted = trust_workspace_ca(optional_workspace(db), certificate)
    ui.result(
        trusted,
        lambda: [ui.line(f"you now trust {a['subject']} (sha256 {a['sha256_fingerprint']})") for a in trusted],
    )


@keys_app.command("publisher", epilog="Example: registry keys publisher ~/publisher-keys --name my-lab")
def keys_publisher(
    folder: Annotated[Path, typer.Argument(help="New folder for the publisher's CA, certificate and key.")],
    name: Annotated[str, typer.Option("--name", help="Who publishes the models (goes into the certificates).")],
    years: Annotated[int, typer.Option("--years", help="Validity of the certificates.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Create a publisher CA and a model-signing certificate, for signing model folders you distribute.

    Keep the folder private; give others the CA certificate (or add it to provenance/publishers/).
    """
    from registry.signing_keys import create_publisher_keys

    ui = UI(as_json)
    info = create_publisher_keys(folder, name, years)
    ui.result(
        info,
        lambda: [
            ui.line(f"publisher keys written to {folder} (private keys mode 0600; keep them out of any repository)"),
            ui.line(f"CA certificate to hand out: {info['ca_certificate']}"),
            ui.line(f"sign a model folder: registry models sign DIR --cert {info['chain']} --key {info['key']}"),
        ],
    )


def _render_keys(ui: UI, info: dict) -> None:
    for role, certificate in zip(("signer", "CA"), info["chain"]):
        ui.fields(f"{role} certificate ({info['folder']})", list(certificate.items()))
    ui.table(
        "CAs you trust (verify, denoise)",
        ("label", "subject", "sha256 fingerprint"),
        [(a["label"], a["subject"], a["sha256_fingerprint"]) for a in info["trusted"]],
    )


def channels_line(channels: dict) -> str:
    """'channels: 3 in, 3 out (luminance: ...)' from a manifest's record (its strings are untrusted)."""
    line = f"channels: {channels.get('input')} in, {channels.get('output')} out, model {channels.get('model')}"
    detail = channels.get("luminance") or channels.get("gray")
    return line + (f" ({channels.get('mode')}: {detail})" if detail else "")


def verify(
    files: Annotated[list[Path], typer.Argument(help="Signed images or model folders to check.", show_default=False)],
    trust: Annotated[list[Path] | None, typer.Option("--trust", help="Also trust this CA (PEM); repeatable.")] = None,
    withdrawals: Annotated[
        Path | None,
        typer.Option(
            "--withdrawals",
            help="A signed withdrawal list to check each model against; default: the location the model records.",
        ),
    ] = None,
    max_pixels: MaxPixelsOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Verify signature, certificate chain and data hash of each file, then cross-check its registry.

    Trusts only --trust, $PROVENOISE_TRUST_CA and the CAs in your own config (`registry keys show`),
    never a CA found in the folder around the files. The registry (from --db, $REGISTRY_DB_URL or the
    enclosing workspace) is consulted only when the output names it. A model trained on data whose
    consent was withdrawn since (its registry, or a signed withdrawal list says so) gets a note: the
    file still verifies, its signature being valid. A tampered or untrusted list is a usage error.
    Exit 0 when every file verifies, 1 when any does not, 2 for usage errors and for files that
    cannot be opened as images (a decompression bomb): the other files are still verified.
    """
    from registry.verifying import verify_files

    ui = UI(as_json)
    reports = verify_files(files, optional_workspace(db), trust or [], db, withdrawals, max_pixels)
    summaries = [report.summary() for report in reports]

    def render() -> None:
        for s in summaries:
            ui.line(f"{'OK  ' if s['ok'] else 'FAIL'} {s['file']}: {s['reason']}")
            if s["kind"] == "image" and s["signed_by"]:
                ui.line(f"     signed by {s['signed_by']} ({s['issuer']}); run {s['run']} ({s['model']})")
                ui.line(f"     trained on {', '.join(s['trained_on']) or 'unknown'}; consent {s['consent']}")
                ui.line(
                    f"     audit at signing: {s['latest_audit'] or 'none'}; training/mining: {s['training_mining']}"
                )
                if isinstance(s["channels"], dict):
                    ui.line(f"     {channels_line(s['channels'])}")
            for note in s["notes"]:
                ui.line(f"     {note}")

    ui.result(summaries, render)
    if any(report.unreadable for report in reports):
        raise typer.Exit(2)
    raise typer.Exit(0 if all(report.ok for report in reports) else 1)
