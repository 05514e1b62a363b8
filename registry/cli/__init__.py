"""Entry point of the `registry` console script: error handling and exit codes.

Exit codes: 0 success; 1 a check that failed (audit, verify); 2 bad input, with one
line on stderr; 130 interrupted. Tracebacks only with --debug or REGISTRY_DEBUG=1.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback

import typer

from registry.errors import RegistryError
from registry.text import printable


def _error(message: str, code: int) -> int:
    # Messages embed names, ids and paths from the command line and from files: made inert, so
    # an escape sequence in them cannot clear or rewrite the terminal.
    first_line = " ".join(printable(str(message).split("\n")[0]).split()) or "unknown error"
    print(f"error: {first_line}", file=sys.stderr)
    return code


def run(argv: list[str] | None = None) -> int:
    from registry.cli.app import app

    argv = list(sys.argv[1:] if argv is None else argv)
    # --debug is honoured anywhere on the line, so it is taken out before parsing.
    debug = "--debug" in argv or os.environ.get("REGISTRY_DEBUG") == "1"
    argv = [arg for arg in argv if arg != "--debug"]
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="registry", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return _error("aborted", 130)
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument...
        return _error(f"{exc.format_message()} (see registry --help)", 2)
    except RegistryError as exc:
        if debug:
            traceback.print_exc()
        return _error(str(exc), 2)
    except KeyboardInterrupt:
        return _error("interrupted", 130)
    except Exception as exc:
        if debug:
            traceback.print_exc()
            return 1
        return _error(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", 1)


def _interrupt(signum: int, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    # A run stopped by Ctrl-C, `kill` or a job scheduler is marked interrupted and can be
    # resumed. Background shells start commands with SIGINT ignored; undo that.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    sys.exit(run())
