"""The CLI starts at once: building the command tree and printing help load no heavy library."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

from registry.cli import run

HEAVY = ("torch", "numpy", "scipy", "sqlalchemy", "alembic", "PIL", "skimage", "c2pa", "cryptography", "matplotlib")
# Every command's --help, run in a fresh interpreter: a top-level import of the API in any
# command module (see registry/cli/app.py) would load torch or SQLAlchemy here.
PROBE = """
import json, sys
from registry.cli import run
codes = [run(argv) for argv in json.loads(sys.argv[1])]
print(json.dumps({"codes": codes, "loaded": sorted(m for m in json.loads(sys.argv[2]) if m in sys.modules)}))
"""


def _commands() -> list[list[str]]:
    from typer.main import get_command

    from registry.cli.app import app

    def walk(command, path):
        yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    return [[*path, "--help"] for path in walk(get_command(app), [])]


def test_help_of_every_command_loads_no_heavy_library():
    commands = _commands()
    assert len(commands) > 20  # the whole tree, subcommands included
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(commands), json.dumps(HEAVY)], capture_output=True, text=True
    )
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result["codes"] == [0] * len(commands)
    assert result["loaded"] == []


def test_version(capsys):
    assert run(["--version"]) == 0
    assert capsys.readouterr().out == f"provenoise {version('provenoise')}\n"


def test_version_belongs_to_the_root(capsys):
    assert run(["--version", "train"]) == 0  # eager: prints and exits before any command runs
    assert run(["train", "--version"]) == 2  # not an option of the commands
