"""registry ledger verify|head|sign|prove|check-proof"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from registry.cli.options import DbOption, JsonOption
from registry.cli.ui import UI
from registry.workspace import find_workspace

ledger_app = typer.Typer(help="The tamper-evident record of every registry write.", no_args_is_help=True)

TrustOption = Annotated[list[Path] | None, typer.Option("--trust", help="Also trust this CA (PEM); repeatable.")]
OutOption = Annotated[Path | None, typer.Option("--out", help="Write the JSON document to this file.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")]


def register(app: typer.Typer) -> None:
    app.add_typer(ledger_app, name="ledger")


@ledger_app.command("verify", epilog="Example: registry ledger verify --since pinned-head.json")
def verify(
    since: Annotated[
        Path | None, typer.Option("--since", help="A head pinned earlier: check the ledger extends it.")
    ] = None,
    trust: TrustOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check every entry, signed head and recorded row; exit 0 when intact, 1 naming the first mismatch."""
    from registry.files import read_json
    from registry.ledger.check import verify_ledger
    from registry.trust_store import chosen_anchors

    ui = UI(as_json)
    workspace = find_workspace(db_url=db)
    pinned = read_json(since, "pinned head") if since else None
    report = verify_ledger(workspace.store(), chosen_anchors(trust or []), pinned)
    summary = report.summary()

    def render() -> None:
        state = "intact" if report.ok else f"NOT intact: {summary['first_problem']}"
        ui.line(f"ledger {state} ({report.size} entries, root {report.root[:16]}..., {report.heads} signed head(s))")
        for problem in summary["problems"][1:20]:
            ui.line(f"  also: {problem}")
        for note in report.notes:
            ui.line(f"  {note}")

    ui.result(summary, render)
    raise typer.Exit(0 if report.ok else 1)


@ledger_app.command("head", epilog="Example: registry ledger head --out pinned-head.json")
def head(out: OutOption = None, force: ForceOption = False, db: DbOption = None) -> None:
    """Print the signed head (size, root) to pin somewhere else, signing a new one if entries were added."""
    from registry.ledger.heads import current_head
    from registry.signing_keys import folder_credentials

    workspace = find_workspace(db_url=db)
    signed = current_head(workspace.store(), folder_credentials(workspace), "registry ledger head").signed
    _emit(signed, out, force)


@ledger_app.command("sign", epilog="Example: registry ledger sign")
def sign(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Sign the ledger's head now with the workspace key."""
    from registry.ledger.heads import sign_head
    from registry.signing_keys import folder_credentials

    ui = UI(as_json)
    workspace = find_workspace(db_url=db)
    signed = sign_head(workspace.store(), folder_credentials(workspace, reporter=ui), "registry ledger sign")
    data = {"size": signed.size, "root_sha256": signed.root_sha256, "head": signed.signed}
    ui.result(data, lambda: ui.line(f"signed head: {signed.size} entries, root {signed.root_sha256}"))


@ledger_app.command(
    "prove", epilog="Example: registry ledger prove metrics:42 --since pinned-head.json --out proof.json"
)
def prove_item(
    item: Annotated[str, typer.Argument(help="TABLE:KEY (e.g. runs:ID, metrics:42), a run id, or DATASET/IMAGE.")],
    since: Annotated[Path | None, typer.Option("--since", help="Also prove the head extends this pinned one.")] = None,
    trust: TrustOption = None,
    out: OutOption = None,
    force: ForceOption = False,
    db: DbOption = None,
) -> None:
    """An inclusion proof of ITEM's row in the newest signed head, checkable without the database."""
    from registry.files import read_json
    from registry.ledger.proofs import prove
    from registry.trust_store import chosen_anchors

    workspace = find_workspace(db_url=db)
    pinned = read_json(since, "pinned head") if since else None
    with workspace.store().reader() as session:
        document = prove(session, item, pinned, chosen_anchors(trust or []))
    _emit(document, out, force)


@ledger_app.command("check-proof", epilog="Example: registry ledger check-proof proof.json --head pinned-head.json")
def check(
    proof: Annotated[Path, typer.Argument(help="A proof from `registry ledger prove`.")],
    head: Annotated[Path | None, typer.Option("--head", help="The head you pinned.")] = None,
    trust: TrustOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a proof offline: the row, its entry, the audit path, the head's signature and the pinned head.

    Exit 0 when it proves the row, 1 when any part fails, 2 for a file that is not a proof.
    """
    from registry.files import read_json
    from registry.ledger.proofs import ProofFailed, check_proof
    from registry.trust_store import chosen_anchors

    ui = UI(as_json)
    pinned = read_json(head, "pinned head") if head else None
    try:
        result = check_proof(read_json(proof, "proof"), chosen_anchors(trust or []), pinned)
    except ProofFailed as exc:
        reason = str(exc)
        ui.result({"ok": False, "reason": reason}, lambda: ui.line(f"FAIL {proof}: {reason}"))
        raise typer.Exit(1) from None
    ui.result(
        result | {"ok": True},
        lambda: ui.line(
            f"OK   {proof}: {result['kind']} {result['key']} is entry #{result['entry']} of a signed tree of "
            f"{result['head_size']} entries" + (f"; {result['pinned']}" if result["pinned"] else "")
        ),
    )


def _emit(document: dict, out: Path | None, force: bool) -> None:
    from registry.files import write_json

    if out is not None:
        write_json(out, document, force)
    else:
        print(json.dumps(document, indent=2, sort_keys=True))
