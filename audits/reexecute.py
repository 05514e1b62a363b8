"""Re-execution of a recorded run in a fresh temporary folder, in a separate process.

The code that runs is the installed code when its source hash matches the record;
otherwise, when the recorded git commit is reachable and the recorded run had no
uncommitted changes, that commit is checked out into a temporary git worktree and run
from there. Anything else runs the current code, and the audit says the code differs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from audits.replay import SPEC_VERSION
from registry.environment import PROJECT_ROOT, code_version
from registry.models import Run
from registry.pairs import recorded_noisy_members
from registry.runs import split_files
from registry.workspace import Workspace


@dataclass
class Execution:
    output: dict  # what audits.replay wrote
    workdir: Path  # holds the re-executed checkpoints until the context exits
    notes: list[str] = field(default_factory=list)


@contextmanager
def reexecute(workspace: Workspace, run: Run) -> Iterator[Execution]:
    with tempfile.TemporaryDirectory(prefix=f"audit-{run.id}-") as temporary:
        workdir = Path(temporary)
        spec = {"spec_version": SPEC_VERSION, "config": run.config}
        spec["images"] = _copy_members(workspace, workdir, "images", split_files(run))
        if run.config["noise"]["kind"] == "pairs":  # the real noisy files it trained and is scored on
            with workspace.store().reader() as session:
                members = recorded_noisy_members(session, session.get(Run, run.id))
            spec["noisy"] = _copy_members(workspace, workdir, "noisy", members)
        (workdir / "spec.json").write_text(json.dumps(spec))

        with _code_for(run, workdir) as (code_root, notes):
            env = dict(os.environ)
            if code_root is not None:
                env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code_root), env.get("PYTHONPATH")]))
            subprocess.run(
                [sys.executable, "-m", "audits.replay", "spec.json", "output.json"],
                cwd=workdir,
                env=env,
                stdout=subprocess.DEVNULL,
            )
        output_file = workdir / "output.json"
        output = (
            json.loads(output_file.read_text())
            if output_file.is_file()
            else {"error": "the re-execution process wrote no output"}
        )
        yield Execution(output, workdir, notes)


def _copy_members(
    workspace: Workspace, workdir: Path, folder: str, files: dict[str, list[tuple[str, str, str]]]
) -> dict[str, list[list[str]]]:
    """Copy each role's files into workdir/folder; role -> [[key, relative copy]] in order."""
    copied: dict[str, list[list[str]]] = {}
    for role, members in files.items():
        copied[role] = []
        for index, (key, relative, _sha) in enumerate(members):
            copy = Path(folder) / role / f"{index:05d}{Path(relative).suffix}"
            (workdir / copy).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(workspace.resolve(relative), workdir / copy)
            copied[role].append([key, copy.as_posix()])
    return copied


@contextmanager
def _code_for(run: Run, workdir: Path) -> Iterator[tuple[Path | None, list[str]]]:
    """(folder to put first on PYTHONPATH, or None for the installed code; notes)."""
    recorded, current = run.code, code_version()
    if current["source_sha256"] == recorded.get("source_sha256"):
        yield None, []
        return
    differs = (
        f"the current code (source {current['source_sha256'][:12]}) differs from "
        f"the recorded code (source {recorded.get('source_sha256', '?')[:12]})"
    )
    commit = recorded.get("git_commit")
    if not commit:
        fallback = "the record names no git commit"
    elif recorded.get("git_dirty_sha256"):
        fallback = "the recorded run had uncommitted changes that git cannot restore"
    elif not _reachable(commit):
        fallback = f"recorded commit {commit[:12]} is not reachable here"
    else:
        tree = workdir / "code"
        added = subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), commit], cwd=PROJECT_ROOT, capture_output=True, text=True
        )
        if added.returncode == 0:
            try:
                yield tree, [f"{differs}; re-ran recorded commit {commit[:12]} from a temporary git worktree"]
            finally:
                remove = ["git", "worktree", "remove", "--force", str(tree)]
                subprocess.run(remove, cwd=PROJECT_ROOT, capture_output=True)
            return
        fallback = f"git could not check out recorded commit {commit[:12]} ({added.stderr.strip()[:120]})"
    yield None, [f"{differs}; {fallback}, so the current code re-ran it"]


def _reachable(commit: str) -> bool:
    check = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=PROJECT_ROOT, capture_output=True)
    return check.returncode == 0
