"""The `registry` command tree. Each command maps its options to one API call and
hands the result to the UI; the work itself lives in registry/ and audits/.

Command modules import that API inside each command, never at the top: building this tree
loads no torch, numpy, database or signing library, so `registry --help` and `--version`
start at once (tests/test_cli_startup.py keeps it so; bench/startup.py measures it).
"""

from __future__ import annotations

from typing import Annotated

import typer

from registry.cli import (
    ablate_cmd,
    audit_cmd,
    data_cmd,
    eval_cmd,
    ledger_cmd,
    lineage_cmd,
    model_cmd,
    provenance_cmd,
    report_cmd,
    runs_cmd,
    train_cmd,
    withdrawals_cmd,
    workspace_cmd,
)

app = typer.Typer(
    name="registry",
    help="provenoise: train, record, audit and sign image denoisers with full provenance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        typer.echo(f"provenoise {version('provenoise')}")
        raise typer.Exit()


@app.callback(epilog="Add --debug anywhere to see the traceback of an unexpected error.")
def root(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """provenoise registry. Run a command with --help for an example."""


workspace_cmd.register(app)
data_cmd.register(app)
train_cmd.register(app)
runs_cmd.register(app)
audit_cmd.register(app)
eval_cmd.register(app)
model_cmd.register(app)
ablate_cmd.register(app)
provenance_cmd.register(app)
report_cmd.register(app)
lineage_cmd.register(app)
withdrawals_cmd.register(app)
ledger_cmd.register(app)
