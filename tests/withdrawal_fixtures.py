"""The issue's fixture for withdrawal tests: three finished runs, two of which trained on one image.

Built once per database kind (three tiny trainings) and copied for each test, like
conftest's `trained_workspace`. A test module uses it with
`pytest_plugins = ["tests.withdrawal_fixtures"]`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from provenance.keys import CA_CERT
from registry.datasets import add_dataset
from registry.runs import show_run
from registry.tracking import train_run
from registry.trust_store import trust_certificate
from registry.workspace import Workspace, init_workspace, resolve_db_url, update_settings
from tests.conftest import TINY_CONFIG, _admin_url, create_database, drop_database, synthetic_image, write_dataset

IMAGE = "tiny/img01"  # the image whose consent the tests withdraw
# Split seeds of TINY_CONFIG's six images (denoiser.splits.make_split): IMAGE is a training
# image under 0 and 3, and only a test image under 1.
TRAINED_SEEDS, TESTED_SEED = (0, 3), 1


def error_line(err: str) -> str:
    """The one line of an error: stderr holds it alone, starting `error: `."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def said(err: str, text: str) -> bool:
    """Whether stderr holds `text`, however rich wrapped it (long paths are cut anywhere)."""
    return "".join(text.split()) in "".join(err.split())


@dataclass(frozen=True)
class ThreeRuns:
    workspace: Workspace
    config: Path  # TINY_CONFIG
    trained: tuple[str, str]  # the runs that trained on `image`
    other: str  # the run that only tested on it
    image: str = IMAGE


@dataclass(frozen=True)
class _Template:
    root: Path
    config: Path
    trained: tuple[str, str]
    other: str
    database: str | None  # PostgreSQL: the database to copy


_made: dict[str, _Template] = {}


def _build(kind: str, base: Path) -> _Template:
    url = create_database() if kind == "postgresql" else None
    workspace, _ = init_workspace(base / "ws", url)
    add_dataset(workspace, write_dataset(base / "source"), "tiny")
    config = base / "tiny.yaml"
    config.write_text(TINY_CONFIG)
    runs = [train_run(workspace, config, [f"data.split_seed={seed}"]) for seed in (*TRAINED_SEEDS, TESTED_SEED)]
    roles = [{m.image_key: m.role for m in show_run(workspace, run).splits}[IMAGE] for run in runs]
    assert roles == ["train", "train", "test"], roles  # the fixture is what its name says
    workspace.store().close()  # PostgreSQL copies a database only while nobody is connected
    return _Template(workspace.root, config, (runs[0], runs[1]), runs[2], url and url.rsplit("/", 1)[1])


@pytest.fixture(scope="session")
def three_run_templates(tmp_path_factory):
    def template(kind: str) -> _Template:
        if kind not in _made:
            _made[kind] = _build(kind, tmp_path_factory.mktemp(f"three-runs-{kind}"))
        return _made[kind]

    yield template
    for kind, made in list(_made.items()):
        if made.database:
            drop_database(_admin_url().rsplit("/", 1)[0] + f"/{made.database}")
        _made.pop(kind, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def three_runs(request, three_run_templates, tmp_path, monkeypatch):
    """A private copy of the three-run workspace, on SQLite and on PostgreSQL."""
    template = three_run_templates(request.param)
    root = Path(shutil.copytree(template.root, tmp_path / "ws", symlinks=True))
    url = create_database(template.database) if template.database else None
    if url:
        update_settings(root, db_url=url)
    monkeypatch.delenv("REGISTRY_DB_URL", raising=False)
    monkeypatch.chdir(root)
    ca = root / ".registry" / "keys" / CA_CERT
    if ca.is_file():  # keys made while the template was built: the workspace is this user's own
        trust_certificate(ca.read_bytes(), str(ca))
    workspace = Workspace(root, resolve_db_url(root, None))
    try:
        yield ThreeRuns(workspace, template.config, template.trained, template.other)
    finally:
        workspace.store().close()
        if url:
            drop_database(url)


@pytest.fixture
def noisy(tmp_path) -> Path:
    """A small noisy grayscale PNG to denoise."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    rng = np.random.default_rng(7)
    pixels = synthetic_image(42).astype(np.float64) + rng.normal(0, 25, (32, 32))
    path = folder / "noisy.png"
    Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8)).save(path)
    return path
