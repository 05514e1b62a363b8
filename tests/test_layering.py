"""The packages' import directions (the design guide's data flow): `denoiser` imports nothing of
the others, `provenance` nothing of `registry` or `audits`, and `registry.text` nothing at all,
so each can be used, tested and reasoned about on its own."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("denoiser", "registry", "provenance", "audits")
FORBIDDEN = {
    "denoiser": ("registry", "provenance", "audits"),
    "provenance": ("registry", "audits"),
    "registry/text.py": PROJECT,
}


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("source", sorted(FORBIDDEN))
def test_import_directions(source):
    files = [ROOT / source] if source.endswith(".py") else sorted((ROOT / source).rglob("*.py"))
    assert files
    for path in files:
        crossing = imported_packages(path) & set(FORBIDDEN[source])
        assert not crossing, f"{path.relative_to(ROOT)} imports {', '.join(sorted(crossing))}"
