"""`registry denoise` and `registry export`: any size, 8/16 bit, inside and outside a workspace."""

import json

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from registry.models import Output
from registry.workspace import init_workspace
from tests.conftest import cli, synthetic_image


@pytest.fixture
def workspace(trained_workspace):
    """This module's tests start after training: a copy of a trained workspace (conftest)."""
    return trained_workspace.workspace


@pytest.fixture
def exported(trained_workspace, tmp_path, capsys):
    run_id = trained_workspace.run_id
    code, out, err = cli(capsys, "export", run_id, "--out", tmp_path / "model")
    assert code == 0, err
    return run_id, tmp_path / "model"


def inputs(folder):
    folder.mkdir()
    Image.fromarray(synthetic_image(1, size=45)[:, :37]).save(folder / "odd.png")
    wide = synthetic_image(2, size=40).astype(np.uint16) * 257
    Image.fromarray(wide).save(folder / "sixteen.png")
    Image.fromarray(np.stack([synthetic_image(3, size=32)] * 3, axis=-1)).save(folder / "colour.jpg", quality=95)
    Image.fromarray(synthetic_image(4, size=33)).save(folder / "scan.tiff")
    return sorted(folder.iterdir())


def test_export_folder_is_self_contained(exported):
    run_id, folder = exported
    assert sorted(p.name for p in folder.iterdir()) == [
        "MODEL_CARD.md",
        "model.safetensors",
        "model.sig",
        "provenoise-model.json",
        "run.json",
    ]
    meta = json.loads((folder / "provenoise-model.json").read_text())
    assert meta["run_id"] == run_id and meta["training_data"]["datasets"][0]["name"] == "tiny"
    assert len(meta["workspace_id"]) == 32
    assert meta["reference_check"]["image"] == "skimage.data.camera" and meta["reference_check"]["psnr_db"] > 0
    assert "registry denoise" in (folder / "MODEL_CARD.md").read_text()


def test_exported_model_in_a_fresh_workspace_records_outputs(exported, tmp_path, monkeypatch, capsys):
    run_id, folder = exported
    fresh, _ = init_workspace(tmp_path / "fresh")
    monkeypatch.chdir(fresh.root)
    files = inputs(tmp_path / "in")
    # --luminance: colour.jpg is a colour photo and the model is gray
    code, out, err = cli(capsys, "denoise", folder, *files, "--out", "out", "--sigma", 25, "--json", "--luminance")
    assert code == 0, err
    result = json.loads(out)
    assert result["recorded"] and result["run"] == run_id
    for source in files:
        written = Image.open(fresh.root / "out" / (source.stem + ".png"))
        assert written.size == Image.open(source).size
        assert written.mode == ("RGB" if source.suffix == ".jpg" else "L")  # the input's channels
    with fresh.store().reader() as session:
        outputs = session.scalars(select(Output)).all()
    assert sorted(o.input_name for o in outputs) == sorted(f.name for f in files)
    # The run is not in this registry: the output names it as the model's run, without a foreign key.
    assert all(o.run_id is None and o.model_run_id == run_id for o in outputs)
    assert all(o.output_path.startswith("out/") and o.signed for o in outputs)


def test_outside_a_workspace_nothing_is_recorded_and_16_bit_works(exported, tmp_path, monkeypatch, capsys):
    _, folder = exported
    monkeypatch.chdir(tmp_path)
    sixteen = tmp_path / "in" / "sixteen.png"
    inputs(tmp_path / "in")
    assert Image.open(sixteen).mode.startswith("I")  # a real 16-bit input
    code, out, err = cli(
        capsys, "denoise", folder, sixteen, "--out", tmp_path / "o16", "--blind", "--bits", "16", "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert not result["recorded"] and result["outputs"][0]["sigma_estimated"]
    written = Image.open(tmp_path / "o16" / "sixteen.png")
    assert written.mode in ("I;16", "I") and np.asarray(written).max() > 255


def test_run_id_works_inside_the_workspace(workspace, exported, tmp_path, capsys):
    run_id, _ = exported
    files = inputs(tmp_path / "in")
    code, _, err = cli(
        capsys, "denoise", run_id[:12], files[0], "--out", "denoised", "--sigma", 15, "--steps", 2, "--luminance"
    )
    assert code == 0, err
    assert (workspace.root / "denoised" / "colour.png").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sigma", "-5"], "--sigma must be in (0, 255]"),
        (["--sigma", "300"], "--sigma must be in (0, 255]"),
        ([], "give either --sigma S or --blind"),
        (["--sigma", "25", "--blind"], "give either --sigma S or --blind"),
        (["--sigma", "25", "--bits", "12"], "--bits must be 8 or 16"),
    ],
)
def test_bad_options(exported, tmp_path, capsys, args, message):
    _, folder = exported
    image = inputs(tmp_path / "in")[0]
    code, out, err = cli(capsys, "denoise", folder, image, "--out", tmp_path / "o", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_unknown_model_and_unreadable_image(exported, tmp_path, capsys):
    _, folder = exported
    good = inputs(tmp_path / "in")[0]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    code, _, err = cli(capsys, "denoise", "no-such-model", good, "--out", tmp_path / "o", "--sigma", 25)
    assert code == 2 and "no run" in err
    code, _, err = cli(capsys, "denoise", folder, good, bad, "--out", tmp_path / "o", "--sigma", 25, "--luminance")
    assert code == 2 and "broken.png" in err
    assert not (tmp_path / "o").exists()  # a bad file stops the batch before any output
    code, _, err = cli(capsys, "denoise", folder, tmp_path / "missing.png", "--out", tmp_path / "o", "--sigma", 25)
    assert code == 2 and "input not found" in err
