"""The README's quick tour runs as written: in a temporary folder laid out like a checkout beside
../shared/, every line in order, trainings shortened by `--set` overrides this test adds.

The benchmark images are not in the repository, so ../shared/datasets/set12 and train400
are small synthetic stand-ins with manifests in the same layout (set12 keeps its image 08).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import write_dataset

ROOT = Path(__file__).resolve().parent.parent
# Shorter trainings, added to every `registry train CONFIG` and `registry ablate` line.
SHORT = (
    "--set train.steps=8 --set train.checkpoint_every=4 --set train.val_every=4 --set train.batch_size=4 "
    "--set optim.warmup_steps=2"
)


def tour_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## A quick tour", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def as_script(lines: list[str]) -> str:
    """The lines as one bash script: RUN and SUCCESSOR are the ids the train lines print last."""
    script = ["set -euo pipefail"]
    for line in lines:
        command = line.split("  #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if not command:
            continue
        command = re.sub(r"\bSUCCESSOR\b", '"$SUCCESSOR"', re.sub(r"\bRUN\b", '"$RUN"', command))
        if command.startswith("registry train --successor"):
            command = f"SUCCESSOR=$({command} | tail -n 1)"
        elif command.startswith("registry train "):
            command = f"RUN=$({command} {SHORT} | tail -n 1)"
        elif command.startswith("registry ablate "):
            command = f"{command} {SHORT}"
        script.append(f"echo '+ {command}' >&2")
        script.append(command)
    return "\n".join(script) + "\n"


def test_every_line_of_the_tour_is_a_command_or_a_comment():
    lines = tour_lines()
    assert len(lines) > 25
    assert all(line.startswith(("registry ", "source ", "# ")) for line in lines), lines


def test_the_readme_tour_runs_as_written(tmp_path, monkeypatch):
    checkout, shared = tmp_path / "checkout", tmp_path / "shared" / "datasets"
    checkout.mkdir()
    shutil.copytree(ROOT / "configs", checkout / "configs")
    shutil.copytree(ROOT / "models", checkout / "models")
    shutil.copytree(ROOT / "provenance" / "publishers", checkout / "provenance" / "publishers")
    (checkout / ".venv").symlink_to(Path(sys.executable).parent.parent)
    set12 = write_dataset(shared / "set12", count=12)
    for index in range(12):  # Set12's ids: 01..12
        (set12 / f"img{index:02d}.png").rename(set12 / f"{index + 1:02d}.png")
    manifest = (set12 / "MANIFEST.csv").read_text()
    (set12 / "MANIFEST.csv").write_text(re.sub(r"img(\d\d)", lambda m: f"{int(m[1]) + 1:02d}", manifest))
    write_dataset(shared / "train400", count=10, size=64)  # the ablations crop 48-pixel patches
    monkeypatch.delenv("REGISTRY_DB_URL", raising=False)
    environment = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    tour = subprocess.run(
        ["bash", "-c", as_script(tour_lines())], cwd=checkout, env=environment, capture_output=True, text=True
    )
    assert tour.returncode == 0, tour.stderr[-3000:]
    workspace = checkout / "my-ws"
    for made in ("report.html", "successor.html", "run.svg", "withdrawals.json", "head.json", "proof.json"):
        assert (workspace / made).is_file(), made
    assert (workspace / "clean" / "camera.png").is_file() and (workspace / "clean" / "chelsea.png").is_file()
