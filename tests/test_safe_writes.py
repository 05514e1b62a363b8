"""Writes that cannot hurt: never through a planted link, never over a file without --force,
never into the registry's own folders, signed before taking their name, modes from the umask."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from registry.models import Output
from tests import signing_callback
from tests.conftest import cli, synthetic_image, write_dataset


@pytest.fixture
def workspace(trained_workspace):
    return trained_workspace.workspace


@pytest.fixture
def run_id(trained_workspace):
    return trained_workspace.run_id


@pytest.fixture
def noisy(workspace) -> Path:
    path = workspace.root / "noisy.png"
    Image.fromarray(synthetic_image(7, size=24)).save(path)
    return path


@pytest.fixture
def victim(tmp_path) -> Path:
    path = tmp_path / "victim.txt"  # anything a planted link could point at
    path.write_text("precious")
    return path


def denoise(capsys, run_id, *args):
    return cli(capsys, "denoise", run_id, *args, "--sigma", 25)


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_denoise_never_writes_through_a_planted_link(workspace, run_id, noisy, victim, capsys, force):
    (workspace.root / "out").mkdir()
    (workspace.root / "out" / "noisy.png").symlink_to(victim)
    code, _, err = denoise(capsys, run_id, noisy, "--out", "out", *force)
    assert code == 2 and "symbolic link" in err
    assert victim.read_text() == "precious" and (workspace.root / "out" / "noisy.png").is_symlink()


def test_an_existing_output_is_kept_unless_force(workspace, run_id, noisy, capsys):
    assert denoise(capsys, run_id, noisy, "--out", "out")[0] == 0
    first = (workspace.root / "out" / "noisy.png").read_bytes()
    code, _, err = denoise(capsys, run_id, noisy, "--out", "out", "--no-sign")
    assert code == 2 and "already exists; pass --force" in err
    assert (workspace.root / "out" / "noisy.png").read_bytes() == first  # the signed output survives
    assert denoise(capsys, run_id, noisy, "--out", "out", "--no-sign", "--force")[0] == 0
    assert (workspace.root / "out" / "noisy.png").read_bytes() != first
    assert not [name for name in os.listdir(workspace.root / "out") if ".partial" in name]


@pytest.mark.parametrize("out", ["data/starter-copy", ".registry/outputs", "linked/inside"])
def test_outputs_never_go_into_the_registrys_folders(workspace, run_id, noisy, out, capsys):
    (workspace.root / "linked").symlink_to(workspace.root / "data")
    code, _, err = denoise(capsys, run_id, noisy, "--out", out)
    assert code == 2 and "inside the workspace's" in err
    code, _, err = cli(capsys, "noise", noisy, "--out", out)
    assert code == 2 and "inside the workspace's" in err
    assert not (workspace.root / "data" / "starter-copy").exists()
    assert not (workspace.root / "data" / "inside").exists()


def test_noise_is_written_like_every_output(workspace, noisy, victim, capsys):
    source = workspace.root / "clean.png"
    Image.fromarray(synthetic_image(3, size=24)).save(source)
    assert cli(capsys, "noise", source, "--out", "noisy")[0] == 0
    code, _, err = cli(capsys, "noise", source, "--out", "noisy", "--seed", 1)
    assert code == 2 and "already exists" in err
    assert cli(capsys, "noise", source, "--out", "noisy", "--seed", 1, "--force")[0] == 0
    (workspace.root / "noisy" / "clean.png").unlink()
    (workspace.root / "noisy" / "clean.png").symlink_to(victim)
    code, _, err = cli(capsys, "noise", source, "--out", "noisy", "--force")
    assert code == 2 and "symbolic link" in err and victim.read_text() == "precious"


@pytest.mark.parametrize("format", ["html", "md", "json"])
def test_report_refuses_a_link_and_an_existing_file(workspace, run_id, victim, format, capsys):
    out = workspace.root / f"report.{format}"
    out.symlink_to(victim)
    code, _, err = cli(capsys, "report", run_id, "--format", format, "--out", out, "--force")
    assert code == 2 and "symbolic link" in err and victim.read_text() == "precious"
    out.unlink()
    assert cli(capsys, "report", run_id, "--format", format, "--out", out)[0] == 0
    code, _, err = cli(capsys, "report", run_id, "--format", format, "--out", out)
    assert code == 2 and "already exists" in err
    assert cli(capsys, "report", run_id, "--format", format, "--out", out, "--force")[0] == 0
    if format == "md":
        assert (workspace.root / "report_files").is_dir()


def test_a_signing_failure_mid_batch_leaves_no_unsigned_file_and_records_what_was_written(
    workspace, run_id, noisy, monkeypatch, capsys
):
    second = workspace.root / "second.png"
    Image.fromarray(synthetic_image(8, size=24)).save(second)
    keys = workspace.root / ".registry" / "keys"
    assert denoise(capsys, run_id, noisy, "--out", "warm-up")[0] == 0  # makes the development keys
    monkeypatch.setenv("PROVENOISE_SIGNER_CALLBACK", "tests.signing_callback:sign_once")
    monkeypatch.setenv("PROVENOISE_TEST_SIGNING_KEY", str(keys / "dev-signer.key.pem"))
    signing_callback.CALLS.clear()
    code, _, err = denoise(capsys, run_id, noisy, second, "--out", "batch", "--cert", keys / "dev-signer.chain.pem")
    assert code == 2 and "signing" in err
    written = sorted(os.listdir(workspace.root / "batch"))
    assert written == ["noisy.png"]  # the first, signed; no unsigned second, no staging file
    with workspace.store().reader() as session:
        recorded = [row.output_path for row in session.scalars(select(Output))]
    assert any(path.endswith("batch/noisy.png") for path in recorded)


def test_outputs_and_datasets_follow_the_umask(workspace, run_id, noisy, tmp_path, capsys):
    previous = os.umask(0o027)
    try:
        assert denoise(capsys, run_id, noisy, "--out", "signed")[0] == 0
        assert cli(capsys, "data", "add", write_dataset(tmp_path / "more", consent=None), "--name", "more")[0] == 0
    finally:
        os.umask(previous)
    mode = stat.S_IMODE((workspace.root / "signed" / "noisy.png").stat().st_mode)
    assert mode == 0o640  # 0o666 less the umask; not 0600
    assert stat.S_IMODE((workspace.root / "data" / "more").stat().st_mode) == 0o750
    assert stat.S_IMODE((workspace.root / ".registry").stat().st_mode) == 0o700


def test_verify_reads_the_signed_output(workspace, run_id, noisy, capsys):
    assert denoise(capsys, run_id, noisy, "--out", "out")[0] == 0
    code, out, _ = cli(capsys, "verify", workspace.root / "out" / "noisy.png", "--json")
    assert code == 0 and json.loads(out)[0]["ok"]
    assert np.asarray(Image.open(workspace.root / "out" / "noisy.png")).shape == (24, 24)


def test_an_existing_output_stops_the_batch_before_anything_is_written(workspace, run_id, noisy, capsys):
    second = workspace.root / "second.png"
    Image.fromarray(synthetic_image(8, size=24)).save(second)
    (workspace.root / "out").mkdir()
    (workspace.root / "out" / "second.png").write_text("someone's file")
    code, _, err = denoise(capsys, run_id, noisy, second, "--out", "out")
    assert code == 2 and "already exists" in err
    assert sorted(os.listdir(workspace.root / "out")) == ["second.png"]  # noisy.png was not written either


def test_denoise_and_noise_take_folders(workspace, run_id, capsys):
    photos = workspace.root / "photos"
    (photos / "trip").mkdir(parents=True)
    for index, path in enumerate([photos / "a.png", photos / "b.jpg", photos / "trip" / "c.png"]):
        Image.fromarray(synthetic_image(index, size=24)).save(path)
    (photos / "notes.txt").write_text("not an image")
    (photos / "linked").symlink_to(workspace.root / "data")  # a walk does not follow links out
    code, out, _ = cli(capsys, "noise", photos, "--out", "noisy", "--recursive")
    assert code == 0 and sorted(out.split()) == ["noisy/a.png", "noisy/b.png", "noisy/trip/c.png"]
    code, _, err = denoise(capsys, run_id, "noisy", "--out", "flat", "--no-sign")
    assert code == 0, err
    assert sorted(p.name for p in (workspace.root / "flat").iterdir()) == ["a.png", "b.png"]
    assert denoise(capsys, run_id, "noisy", "--out", "tree", "--recursive", "--no-sign")[0] == 0
    assert (workspace.root / "tree" / "trip" / "c.png").is_file()
    (workspace.root / "empty").mkdir()
    code, _, err = denoise(capsys, run_id, "empty", "--out", "none")
    assert code == 2 and "no images in folder empty (--recursive looks in its subfolders too)" in err
