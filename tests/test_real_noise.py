"""Real noise (issue 11, capability 4): a paired dataset records each image's noisy file and
its hash, `registry eval` scores the real noisy files with no synthetic noise (blind by
default, or at a given sigma), and the audit checks the noisy files it was scored on."""

import csv
import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from PIL import Image

from audits.audit import audit_run
from audits.integrity import paired_files
from denoiser.defaults import BLIND_DEFAULT
from denoiser.images import load_gray
from denoiser.metrics import psnr
from registry.datasets import add_dataset, show_dataset
from registry.db import _alembic_config, schema_is_current
from registry.errors import RegistryError
from registry.manifests import read_entries
from registry.models import Dataset, Evaluation
from registry.runs import get_run
from tests.conftest import cli, synthetic_image
from tests.test_consent_by_content import error_line


def write_pairs(folder: Path, count: int = 3, sigma: float = 20.0, picture=synthetic_image) -> Path:
    """clean/ID.png and noisy/ID.png (the clean picture plus seeded noise, 8-bit), with a manifest;
    `picture(seed)` gives the clean uint8 picture (gray by default)."""
    rng = np.random.default_rng(7)
    (folder / "clean").mkdir(parents=True)
    (folder / "noisy").mkdir()
    rows = []
    for index in range(count):
        image_id = f"pair{index}"
        clean = picture(10 + index)
        noisy = np.clip(np.round(clean + rng.normal(0, sigma, clean.shape)), 0, 255).astype(np.uint8)
        Image.fromarray(clean).save(folder / "clean" / f"{image_id}.png")
        Image.fromarray(noisy).save(folder / "noisy" / f"{image_id}.png")
        rows.append(
            {"image_id": image_id, "file": f"clean/{image_id}.png", "noisy_file": f"noisy/{image_id}.png"}
            | {"license": "CC0-1.0", "consent": "granted"}
        )
    write_manifest(folder, rows)
    return folder


def write_manifest(folder: Path, rows: list[dict]) -> None:
    with open(folder / "MANIFEST.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def paired(trained_workspace, tmp_path):
    """(workspace, run id, source folder) with the paired dataset `pairs` registered."""
    workspace = trained_workspace.workspace
    source = write_pairs(tmp_path / "pairs")
    add_dataset(workspace, source, "pairs")
    return workspace, trained_workspace.run_id, source


def test_a_paired_dataset_records_and_copies_each_noisy_file(paired, capsys):
    workspace, _, source = paired
    for image in show_dataset(workspace, "pairs").images:
        original = source / "noisy" / f"{image.image_id}.png"
        assert image.noisy.file == f"noisy/{image.image_id}.png" and image.noisy.mode == "L"
        assert image.noisy.sha256 == hashlib.sha256(original.read_bytes()).hexdigest()
        assert workspace.resolve(image.noisy.path).read_bytes() == original.read_bytes()
    code, out, err = cli(capsys, "data", "show", "pairs", "--json")
    assert code == 0, err
    listed = json.loads(out)["image_list"]
    assert listed[0]["noisy_file"]["path"] == "data/pairs/noisy/pair0.png"
    # unpaired datasets show no such field
    code, out, _ = cli(capsys, "data", "show", "tiny", "--json")
    assert "noisy_file" not in json.loads(out)["image_list"][0]
    # the datasheets say which dataset is paired
    for name, paired_answer in (("pairs", "yes: a paired dataset"), ("tiny", "not paired")):
        code, out, err = cli(capsys, "data", "show", name, "--datasheet", "--json")
        answers = {a["question"]: a["answer"] for a in json.loads(out)}
        assert paired_answer in answers["Is there a label or target associated with each instance?"], name


@pytest.mark.parametrize(
    "break_pair, fragment",
    [
        (lambda folder: (folder / "noisy" / "pair1.png").unlink(), "noisy_file 'noisy/pair1.png' not found"),
        (
            lambda folder: Image.new("L", (31, 32)).save(folder / "noisy" / "pair1.png"),
            "noisy_file 'noisy/pair1.png' is 31x32, its clean file 'clean/pair1.png' is 32x32",
        ),
    ],
    ids=["missing", "other-size"],
)
def test_a_broken_pair_is_refused_with_one_line_and_nothing_written(
    trained_workspace, tmp_path, capsys, break_pair, fragment
):
    workspace = trained_workspace.workspace
    source = write_pairs(tmp_path / "pairs")
    break_pair(source)
    code, out, err = cli(capsys, "data", "add", source, "--name", "pairs")
    assert code == 2 and out == "" and fragment in error_line(err)
    assert not (workspace.data_dir / "pairs").exists()
    with workspace.store().reader() as session:
        assert session.query(Dataset).filter(Dataset.name == "pairs").count() == 0


def rewrite_noisy_file(folder: Path, row: int, noisy_file: str) -> None:
    with open(folder / "MANIFEST.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[row]["noisy_file"] = noisy_file
    write_manifest(folder, rows)


@pytest.mark.parametrize(
    "break_pair, message",
    [
        (lambda folder: (folder / "noisy" / "pair1.png").unlink(), "noisy_file 'noisy/pair1.png' not found"),
        (
            lambda folder: Image.new("L", (32, 30)).save(folder / "noisy" / "pair1.png"),
            "noisy_file 'noisy/pair1.png' is 32x30, its clean file 'clean/pair1.png' is 32x32",
        ),
        (
            lambda folder: Image.new("RGB", (32, 32)).save(folder / "noisy" / "pair1.png"),
            "noisy_file 'noisy/pair1.png' is mode RGB, its clean file is mode L",
        ),
        (
            lambda folder: rewrite_noisy_file(folder, 1, "../pair1.png"),
            "noisy_file '../pair1.png' leaves the dataset folder",
        ),
        (
            lambda folder: (folder / "noisy" / "pair1.png").write_text("not an image"),
            "noisy_file not an image: {folder}/noisy/pair1.png",
        ),
        (
            lambda folder: rewrite_noisy_file(folder, 1, "noisy/\x1b[2Jpair1.png"),
            "noisy_file 'noisy/\\x1b[2Jpair1.png' holds control or format characters",
        ),
    ],
    ids=["missing", "other-height", "other-mode", "escaping", "not-an-image", "hidden-characters"],
)
def test_each_broken_pair_is_named_by_its_row_and_reason(tmp_path, break_pair, message):
    """In-process, the exact line: which row, which file, what is wrong with it."""
    source = write_pairs(tmp_path / "pairs")
    (tmp_path / "pair1.png").write_bytes((source / "noisy" / "pair1.png").read_bytes())  # what "../" reaches
    break_pair(source)
    with pytest.raises(RegistryError) as refused:
        read_entries(source, source / "MANIFEST.csv", None, None)
    assert str(refused.value) == f"{source / 'MANIFEST.csv'} row 2: " + message.format(folder=source.resolve())


def test_a_pairs_noisy_entry_records_its_file_hash_size_and_shape(tmp_path):
    source = write_pairs(tmp_path / "pairs")
    rewrite_noisy_file(source, 0, "")  # a row without a pair is allowed
    first, second, _ = read_entries(source, source / "MANIFEST.csv", None, None)
    assert first.noisy is None
    original = source / "noisy" / "pair1.png"
    noisy = second.noisy
    assert (noisy.file, noisy.source_path) == ("noisy/pair1.png", original.resolve())
    assert noisy.sha256 == hashlib.sha256(original.read_bytes()).hexdigest()
    assert noisy.bytes == original.stat().st_size
    assert (noisy.info.width, noisy.info.height, noisy.info.mode) == (32, 32, "L")


def test_eval_on_real_noise_adds_no_synthetic_noise_and_is_blind_by_default(paired, capsys):
    workspace, run_id, source = paired
    code, out, err = cli(capsys, "eval", run_id, "--dataset", "pairs", "--json")
    assert code == 0, err
    tables = json.loads(out)["evaluations"][0]
    assert tables["noise"] == "real"
    assert {row["Sigma"] for row in tables["table1"]} == {"real noise (blind)"}
    for row in tables["table1"]:
        image_id = row["Image_ID"].split("/")[1]
        clean, noisy = (load_gray(source / kind / f"{image_id}.png") for kind in ("clean", "noisy"))
        # the noisy row is the files' own PSNR: nothing was added to them
        assert row["Noisy_PSNR"] == pytest.approx(psnr(clean, noisy), abs=1e-9)
        assert row["Proposed_PSNR"] is not None
    with workspace.store().reader() as session:
        evaluation = session.query(Evaluation).filter(Evaluation.dataset == "pairs").one()
        assert evaluation.details["noise"] == "real"
        assert evaluation.details["conditioning"] == f"blind ({BLIND_DEFAULT})"
        estimates = evaluation.details["sigma_used"]
        assert sorted(estimates) == ["pairs/pair0", "pairs/pair1", "pairs/pair2"]
        assert all(10 < value["real"] < 30 for value in estimates.values())  # the files hold sigma 20


def test_eval_on_real_noise_at_a_given_sigma(paired, capsys):
    _, run_id, source = paired
    code, out, err = cli(capsys, "eval", run_id, "--dataset", "pairs", "--sigma", "25", "--json")
    assert code == 0, err
    table1 = json.loads(out)["evaluations"][0]["table1"]
    assert {row["Sigma"] for row in table1} == {"real noise (told sigma 25)"}
    clean, noisy = (load_gray(source / kind / "pair0.png") for kind in ("clean", "noisy"))
    assert table1[0]["Noisy_PSNR"] == pytest.approx(psnr(clean, noisy), abs=1e-9)


def test_the_audit_checks_the_noisy_files_a_run_was_scored_on(paired, capsys):
    workspace, run_id, _ = paired
    assert cli(capsys, "eval", run_id, "--dataset", "pairs")[0] == 0
    with workspace.store().reader() as session:
        run = get_run(session, run_id)
        assert sorted(paired_files(session, run)) == ["pairs/pair0", "pairs/pair1", "pairs/pair2"]
    tampered = workspace.data_dir / "pairs" / "noisy" / "pair1.png"
    tampered.write_bytes(tampered.read_bytes() + b"\0")
    result = audit_run(workspace, run_id)
    assert result.verdict == "INTEGRITY_FAILED"
    assert "data/pairs/noisy/pair1.png" in result.reason or any(
        f.get("file") == "data/pairs/noisy/pair1.png" for f in result.differences
    )


def test_a_workspace_from_before_pairs_upgrades_and_still_audits_identical(trained_workspace, capsys):
    """Schema 0005 (before noisy files) -> `registry init` -> 0006: the old run still audits
    IDENTICAL and the ledger still verifies (its image rows kept their columns)."""
    workspace, run_id = trained_workspace.workspace, trained_workspace.run_id
    store = workspace.store()
    config = _alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    assert not schema_is_current(store.engine)
    code, _, err = cli(capsys, "init", "--no-starter")
    assert code == 0, err
    assert schema_is_current(store.engine)
    result = audit_run(workspace, run_id)
    assert result.verdict == "IDENTICAL", result.reason
    code, _, err = cli(capsys, "ledger", "verify")
    assert code == 0, err


def test_a_paired_datasets_version_covers_its_noisy_files(tmp_path):
    """Another noisy file under the same clean picture is another dataset version; a dataset
    without pairs keeps the version it had before pairs existed (ids and clean hashes only)."""
    from registry.manifests import content_hash

    source = write_pairs(tmp_path / "pairs")
    manifest = source / "MANIFEST.csv"
    before = content_hash(read_entries(source, manifest, None, None))
    noisy = source / "noisy" / "pair1.png"
    Image.fromarray(255 - np.asarray(Image.open(noisy))).save(noisy)
    entries = read_entries(source, manifest, None, None)
    assert content_hash(entries) != before
    rows = sorted(f"{e.image_id}\0{e.sha256}\0{e.noisy.sha256}\n" for e in entries)
    assert content_hash(entries) == hashlib.sha256("".join(rows).encode()).hexdigest()
    unpaired = [replace(entry, noisy=None) for entry in entries]
    rows = sorted(f"{e.image_id}\0{e.sha256}\n" for e in unpaired)
    assert content_hash(unpaired) == hashlib.sha256("".join(rows).encode()).hexdigest()
