"""`pip install .` (not editable) gives a working `registry`, with migrations and the
starter manifest inside the wheel; the committed data.dvc is what a fresh init rebuilds."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from registry.starter import MANIFEST, skimage_data_dir
from registry.workspace import init_workspace

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_install_runs_from_site_packages(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("denoiser", "registry", "audits", "provenance"):
        if (ROOT / package).is_dir():
            shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(source)], check=True)
    (wheel,) = wheels.glob("provenoise-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "registry/migrations/env.py",
        "registry/migrations/versions/0001_initial_schema.py",
        "registry/starter/manifest.csv",
        "provenance/publishers/provenoise-2026-12-06.pem",  # models/reference-color's publisher
        "provenance/publishers/provenoise-2026-12-07.pem",  # models/reference's publisher
    } <= names

    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)
    env = dict(os.environ, PYTHONPATH=str(site), REGISTRY_DB_URL="")
    registry = [sys.executable, "-m", "registry.cli"]
    # cwd away from the checkout: `python -m` and `-c` put the cwd first on sys.path.
    where = subprocess.run(
        [sys.executable, "-c", "import registry; print(registry.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert where.stdout.strip().startswith(str(site))

    workspace = tmp_path / "ws"
    done = subprocess.run(
        [*registry, "init", str(workspace), "--json"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        [*registry, "data", "list", "--json"], env=env, cwd=workspace, capture_output=True, text=True
    )
    assert [(d["name"], d["images"]) for d in json.loads(listed.stdout)] == [("starter", 10)]


def test_starter_manifest_matches_the_installed_scikit_image():
    rows = MANIFEST.read_text().splitlines()[1:]
    files = [row.split(",")[1] for row in rows]
    assert all((skimage_data_dir() / f).is_file() for f in files)


def test_fresh_init_rebuilds_the_committed_data_dvc(tmp_path):
    from registry.starter import ensure_starter

    workspace, _ = init_workspace(tmp_path / "ws")
    assert ensure_starter(workspace)
    assert (workspace.root / "data.dvc").read_text() == (ROOT / "data.dvc").read_text()
    assert not ensure_starter(workspace)  # idempotent
