"""Shared fixtures: tiny synthetic datasets, tiny configs, and workspaces on SQLite and
on the PostgreSQL server at 127.0.0.1:5432 (a fresh database per test, dropped after)."""

from __future__ import annotations

import csv
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from provenance.keys import CA_CERT, create_development_keys
from registry.cli import run as cli_run
from registry.datasets import add_dataset
from registry.exporting import export_run
from registry.tracking import train_run
from registry.trust_store import trust_certificate
from registry.workspace import Workspace, init_workspace, resolve_db_url, update_settings

POSTGRES_ADMIN = os.environ.get("PROVENOISE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")

TINY_CONFIG = """
name: tiny
data:
  datasets: [tiny]
  split: {train: 0.6, val: 0.2, test: 0.2}
  patch_size: 16
  val_crops: 2
model: {depth: 3, base_channels: 4}
optim: {lr: 0.002, warmup_steps: 2}
train: {seed: 0, steps: 8, batch_size: 4, checkpoint_every: 4, val_every: 4, threads: 1}
eval: {sigmas: [25]}
"""


def cli(capsys, *argv) -> tuple[int, str, str]:
    """Run the `registry` CLI in-process; returns (exit code, stdout, stderr)."""
    code = cli_run([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def synthetic_image(seed: int, size: int = 32) -> np.ndarray:
    """A smooth gradient with a few rectangles: structure a denoiser can learn."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    image = 0.3 + 0.4 * (rng.uniform() * x + rng.uniform() * y)
    for _ in range(3):
        top, left = rng.integers(0, size - 8, 2)
        image[top : top + 8, left : left + 8] = rng.uniform()
    return np.clip(np.round(image * 255), 0, 255).astype(np.uint8)


def write_dataset(folder: Path, count: int = 6, consent: dict[str, str] | None = None, size: int = 32) -> Path:
    """PNG images plus a MANIFEST.csv in the shared/datasets layout."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for index in range(count):
        image_id = f"img{index:02d}"
        Image.fromarray(synthetic_image(index, size)).save(folder / f"{image_id}.png")
        status = (consent or {}).get(image_id, "unknown")
        rows.append(
            {
                "image_id": image_id,
                "file": f"{image_id}.png",
                "license": "CC0-1.0",
                "consent": status,
                "source": "synthetic",
                "attribution": "tests",
                "notes": "",
            }
        )
    with open(folder / "MANIFEST.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


@pytest.fixture(scope="session", autouse=True)
def session_user_config(tmp_path_factory):
    """Session fixtures (trained templates) get a user configuration of their own too: nothing a
    test run does may touch the real ~/.config/provenoise."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("session-user-config")))
        yield


@pytest.fixture(autouse=True)
def user_config(tmp_path_factory, monkeypatch) -> Path:
    """Each test gets its own user configuration folder (development keys, trusted CAs)."""
    folder = tmp_path_factory.mktemp("user-config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    for name in (
        "PROVENOISE_TRUST_CA",
        "PROVENOISE_SIGNING_CERT",
        "PROVENOISE_SIGNING_KEY",
        "PROVENOISE_SIGNER_CALLBACK",
    ):
        monkeypatch.delenv(name, raising=False)
    return folder


def _admin_url() -> str:
    return POSTGRES_ADMIN.replace("postgresql+psycopg://", "postgresql://")


def create_database(template: str | None = None) -> str:
    """A new PostgreSQL database (a copy of `template` when given); returns its URL."""
    import psycopg

    name = f"provenoise_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_url(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return _admin_url().rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    """None (the workspace's SQLite default) or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_CONFIG)
    return path


@pytest.fixture
def workspace(tmp_path: Path, db_url, monkeypatch) -> Workspace:
    """A workspace (no starter data) with the 6-image dataset `tiny` registered."""
    monkeypatch.delenv("REGISTRY_DB_URL", raising=False)
    workspace, _ = init_workspace(tmp_path / "ws", db_url)
    add_dataset(workspace, write_dataset(tmp_path / "source"), "tiny")
    monkeypatch.chdir(workspace.root)
    return workspace


@dataclass(frozen=True)
class SignedModel:
    folder: Path  # an exported, signed model folder (copy it before changing it)
    ca: Path  # the CA its signer chains to: trust it with --trust
    run_id: str


@pytest.fixture(scope="session")
def signed_model(tmp_path_factory) -> SignedModel:
    """One tiny run, trained once per test session in its own workspace, exported and signed
    by a publisher nobody trusts until a test passes its CA. Tests only read it."""
    root = tmp_path_factory.mktemp("signed-model")
    workspace, _ = init_workspace(root / "ws", "sqlite:///" + str(root / "ws.db"))
    add_dataset(workspace, write_dataset(root / "source"), "tiny")
    (root / "tiny.yaml").write_text(TINY_CONFIG)
    run_id = train_run(workspace, root / "tiny.yaml")
    credentials = create_development_keys(root / "publisher")
    folder = export_run(workspace, run_id, root / "model", credentials=credentials)
    workspace.store().close()
    return SignedModel(folder, root / "publisher" / CA_CERT, run_id)


@dataclass(frozen=True)
class TrainedWorkspace:
    workspace: Workspace  # like the `workspace` fixture's: dataset `tiny` from tmp_path/"source"
    run_id: str  # a finished TINY_CONFIG run


@dataclass(frozen=True)
class _Template:
    root: Path
    source: Path
    run_id: str
    database: str | None  # PostgreSQL: the database to copy


@pytest.fixture(scope="session")
def _trained_templates(tmp_path_factory):
    """Per database kind, one workspace with `tiny` and a trained TINY_CONFIG run, made once."""
    made: dict[str, _Template] = {}

    def template(kind: str) -> _Template:
        if kind not in made:
            base = tmp_path_factory.mktemp(f"trained-{kind}")
            url = create_database() if kind == "postgresql" else None
            workspace, _ = init_workspace(base / "ws", url)
            add_dataset(workspace, write_dataset(base / "source"), "tiny")
            (base / "tiny.yaml").write_text(TINY_CONFIG)
            run_id = train_run(workspace, base / "tiny.yaml")
            workspace.store().close()  # PostgreSQL copies a database only while nobody is connected
            made[kind] = _Template(workspace.root, base / "source", run_id, url and url.rsplit("/", 1)[1])
        return made[kind]

    yield template
    for copied in made.values():
        if copied.database:
            drop_database(_admin_url().rsplit("/", 1)[0] + f"/{copied.database}")


@pytest.fixture(params=["sqlite", "postgresql"])
def trained_workspace(request, _trained_templates, tmp_path, monkeypatch):
    """A private copy of a workspace holding a trained tiny run: for tests about what comes after
    training (denoise, sign, verify, evaluate), without training again for each of them."""
    template = _trained_templates(request.param)
    root = Path(shutil.copytree(template.root, tmp_path / "ws", symlinks=True))
    shutil.copytree(template.source, tmp_path / "source")
    url = create_database(template.database) if template.database else None
    if url:
        update_settings(root, db_url=url)
    # The workspace's keys (made when its run ended) are this test user's own: they trust them.
    trust_certificate((root / ".registry" / "keys" / CA_CERT).read_bytes(), "the trained workspace's CA")
    monkeypatch.delenv("REGISTRY_DB_URL", raising=False)
    monkeypatch.chdir(root)
    workspace = Workspace(root, resolve_db_url(root, None))
    try:
        yield TrainedWorkspace(workspace, template.run_id)
    finally:
        workspace.store().close()
        if url:
            drop_database(url)
