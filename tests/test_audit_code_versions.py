"""When the code changed since a run, the audit says so and re-runs the recorded commit
from a temporary git worktree; without a reachable commit it re-runs the current code."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import TINY_CONFIG, write_dataset

ROOT = Path(__file__).resolve().parent.parent


def git(repo: Path, *args: str) -> str:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.org",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.org",
    )
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def registry(code: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(code), REGISTRY_DB_URL="")
    return subprocess.run(
        [sys.executable, "-m", "registry.cli", *argv], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_changed_code_is_detected_and_the_recorded_commit_is_re_run(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    for package in ("denoiser", "registry", "audits"):
        shutil.copytree(ROOT / package, code / package, ignore=shutil.ignore_patterns("__pycache__"))
    git(code, "init", "-q")
    git(code, "add", ".")
    git(code, "commit", "-q", "-m", "recorded version")
    commit = git(code, "rev-parse", "HEAD")

    workspace = tmp_path / "ws"
    assert registry(code, tmp_path, "init", str(workspace), "--no-starter").returncode == 0
    assert (
        registry(code, workspace, "data", "add", str(write_dataset(tmp_path / "tiny")), "--name", "tiny").returncode
        == 0
    )
    (tmp_path / "tiny.yaml").write_text(TINY_CONFIG)
    trained = registry(code, workspace, "train", str(tmp_path / "tiny.yaml"), "--json")
    assert trained.returncode == 0, trained.stderr
    run_id = json.loads(trained.stdout)["run"]
    shown = json.loads(registry(code, workspace, "runs", "show", run_id, "--json").stdout)
    assert shown["code"]["git_commit"] == commit and shown["code"]["git_dirty_sha256"] is None

    # A change that alters results: noise 1% stronger. Left uncommitted.
    noise = code / "denoiser" / "noise.py"
    noise.write_text(noise.read_text().replace("np.float32(sigma / 255.0)", "np.float32(1.01 * sigma / 255.0)"))

    audited = registry(code, workspace, "audit", run_id, "--json")
    result = json.loads(audited.stdout)
    assert audited.returncode == 0, result
    assert result["verdict"] == "IDENTICAL"
    assert any(f"re-ran recorded commit {commit[:12]}" in note for note in result["notes"])
    assert git(code, "worktree", "list").count("\n") == 0  # the temporary worktree is gone

    # Without the commit the changed code itself re-runs, and the results diverge.
    shutil.rmtree(code / ".git")
    audited = registry(code, workspace, "audit", run_id, "--json")
    result = json.loads(audited.stdout)
    assert audited.returncode == 1 and result["verdict"] == "DIVERGED"
    assert any("the current code" in note and "differs" in note for note in result["notes"])
