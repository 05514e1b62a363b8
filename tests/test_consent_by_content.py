"""Consent belongs to the picture, not to a row (issue 9): every copy of a picture (identical
decoded pixels, in any dataset, whatever the file's encoding) shares the most restrictive
status, and a dataset that holds one picture twice is refused."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as Picture
from sqlalchemy import select, update

from provenance.pixels import pixel_sha256
from registry import dvc
from registry.consent import CONSENT_ORDER, copies_of, effective_consent, most_restrictive, withdrawn_copies
from registry.data_summary import training_data
from registry.datasets import add_dataset, get_dataset, set_consent
from registry.evaluations import EvalRequest, evaluate_run, show_evaluations
from registry.models import ConsentEvent, Dataset, Image
from registry.runs import get_run, show_run
from registry.tracking import train_run
from tests.conftest import cli, synthetic_image, write_dataset

ONE_STEP = ["train.steps=1", "train.checkpoint_every=1", "train.val_every=1"]


def with_manifest(folder: Path, rows: list[tuple[str, str]]) -> Path:
    """Write folder/MANIFEST.csv listing (image_id, file) rows."""
    with open(folder / "MANIFEST.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_id", "file", "license"])
        writer.writerows([(image_id, file, "CC0-1.0") for image_id, file in rows])
    return folder


def copy_of_tiny(tmp_path: Path, name: str, image_ids: list[str]) -> Path:
    """A dataset folder holding byte-identical copies of tiny's images (as dupNN) and one picture of its own."""
    folder = tmp_path / name
    folder.mkdir()
    rows = []
    for image_id in image_ids:
        copy = "dup" + image_id.removeprefix("img")
        shutil.copyfile(tmp_path / "source" / f"{image_id}.png", folder / f"{copy}.png")
        rows.append((copy, f"{copy}.png"))
    Picture.fromarray(synthetic_image(100)).save(folder / "own.png")
    return with_manifest(folder, [*rows, ("own", "own.png")])


def workspace_state(workspace, name: str) -> tuple:
    """What a refused `data add NAME` must leave alone: no data/NAME, data.dvc, the registered datasets."""
    with workspace.store().reader() as session:
        names = sorted(session.scalars(select(Dataset.name)))
    return (workspace.data_dir / name).exists(), (workspace.root / dvc.DATA_DVC).read_bytes(), names


def effective(workspace, *keys: str) -> list[str]:
    """The effective consent of each DATASET/IMAGE."""
    with workspace.store().reader() as session:
        images = [image_named(session, key) for key in keys]
        statuses = effective_consent(session, images)
    return [statuses[image.id] for image in images]


def image_named(session, key: str) -> Image:
    dataset, image_id = key.split("/")
    return next(i for i in get_dataset(session, dataset).images if i.image_id == image_id)


def error_line(err: str) -> str:
    """The one `error:` line of a failed `data add`; anything else on stderr is its progress bar."""
    (line,) = [line for line in err.splitlines() if line.startswith("error: ")]
    assert all(other.startswith("checking images of") for other in err.splitlines() if other != line), err
    return line


def test_one_file_listed_twice_is_refused_and_nothing_is_written(workspace, tmp_path, capsys):
    source = write_dataset(tmp_path / "twice", count=3)
    with_manifest(source, [("a", "img00.png"), ("b", "img01.png"), ("c", "./img00.png")])
    before = workspace_state(workspace, "twice")
    code, out, err = cli(capsys, "data", "add", source, "--name", "twice")
    assert code == 2 and out == ""
    line = error_line(err)
    assert line == (
        f"error: {source / 'MANIFEST.csv'}: row 1 (image_id 'a', file 'img00.png') and row 3 (image_id 'c', file "
        "'img00.png') list the same file 'img00.png'; register each file once"
    )
    assert workspace_state(workspace, "twice") == before


def test_two_files_of_one_picture_in_one_dataset_are_linked(workspace, tmp_path, capsys):
    source = write_dataset(tmp_path / "pair", count=3)
    # Same pixels, other bytes: a PNG saved without compression.
    Picture.open(source / "img02.png").save(source / "again.png", compress_level=0)
    assert (source / "again.png").read_bytes() != (source / "img02.png").read_bytes()
    with_manifest(source, [("a", "img00.png"), ("b", "img02.png"), ("c", "again.png")])
    code, out, err = cli(capsys, "data", "add", source, "--name", "pair", "--json")
    assert code == 0, err
    duplicates = {d["image"]: d["duplicates"] for d in json.loads(out)["duplicates"]}
    # (the workspace's own `tiny` dataset holds the same synthetic pictures, hence tiny/img02)
    assert duplicates["pair/b"] == ["pair/c", "tiny/img02"] and duplicates["pair/c"] == ["pair/b", "tiny/img02"]
    code, out, err = cli(capsys, "consent", "set", "pair/c", "--status", "withdrawn", "--json")
    assert [(r["image"], r["effective"]) for r in json.loads(out)["reached"]] == [
        ("pair/b", "withdrawn"),
        ("pair/c", "withdrawn"),
        ("tiny/img02", "withdrawn"),
    ]


@pytest.mark.parametrize("withdrawn_on", ["tiny/img01", "copy/dup01"])
def test_withdrawing_either_copy_withdraws_the_picture_everywhere(
    workspace, tiny_config, tmp_path, capsys, withdrawn_on
):
    code, out, err = cli(capsys, "data", "add", copy_of_tiny(tmp_path, "copy", ["img01"]), "--name", "copy", "--json")
    assert code == 0, err
    assert json.loads(out)["duplicates"] == [
        {"image": "copy/dup01", "duplicates": ["tiny/img01"], "effective_consent": "unknown"}
    ]

    code, out, err = cli(capsys, "consent", "set", withdrawn_on, "--status", "withdrawn", "--note", "asked", "--json")
    assert code == 0, err
    reached = json.loads(out)["reached"]
    assert [(r["image"], r["effective"]) for r in reached] == [("copy/dup01", "withdrawn"), ("tiny/img01", "withdrawn")]
    with workspace.store().reader() as session:
        (event,) = session.scalars(select(ConsentEvent)).all()
    assert event.reached == reached

    for name in ("tiny", "copy"):
        code, out, _ = cli(capsys, "data", "show", name, "--json")
        detail = json.loads(out)
        (image,) = [i for i in detail["image_list"] if i["image_id"] in ("img01", "dup01")]
        assert image["effective_consent"] == "withdrawn"
        assert image["consent"] == ("withdrawn" if withdrawn_on.startswith(name) else "unknown")
        assert image["copies"] == (["copy/dup01"] if name == "tiny" else ["tiny/img01"])
        assert detail["effective_consent"]["withdrawn"] == 1

    config = tmp_path / "both.yaml"
    config.write_text(tiny_config.read_text().replace("datasets: [tiny]", "datasets: [tiny, copy]"))
    run = show_run(workspace, train_run(workspace, config, ONE_STEP))
    assert sorted(e["image"] for e in run.excluded) == ["copy/dup01", "tiny/img01"]
    used = {m.image_key for m in run.splits}
    assert not used & {"copy/dup01", "tiny/img01"} and len(used) == 6

    ids = evaluate_run(workspace, run.id, EvalRequest(["tiny", "copy"], {"sigmas": [25.0]}))
    left_out = {e.dataset: [x["image"] for x in e.excluded] for e in show_evaluations(workspace, ids)}
    assert left_out == {"tiny": ["tiny/img01"], "copy": ["copy/dup01"]}


def test_a_re_encoded_file_is_the_same_picture_and_a_near_duplicate_is_not(workspace, tmp_path, capsys):
    folder = tmp_path / "reencoded"
    folder.mkdir()
    tiny = tmp_path / "source"
    Picture.open(tiny / "img02.png").save(folder / "p02.png", compress_level=0)
    Picture.open(tiny / "img03.png").save(folder / "t03.tif")  # lossless TIFF
    near = np.asarray(Picture.open(tiny / "img04.png")).copy()
    near[0, 0] ^= 1  # one pixel differs: another picture as far as consent goes
    Picture.fromarray(near).save(folder / "n04.png")
    with_manifest(folder, [("p02", "p02.png"), ("t03", "t03.tif"), ("n04", "n04.png")])
    assert (folder / "p02.png").read_bytes() != (tiny / "img02.png").read_bytes()

    code, out, err = cli(capsys, "data", "add", folder, "--name", "reencoded")
    assert code == 0, err
    assert "reencoded/p02 is the same picture as tiny/img02" in out
    assert "reencoded/t03 is the same picture as tiny/img03" in out
    assert "n04" not in out

    set_consent(workspace, "tiny/img03", "withdrawn")
    set_consent(workspace, "tiny/img04", "withdrawn")
    statuses = effective(workspace, "reencoded/p02", "reencoded/t03", "reencoded/n04")
    assert statuses == ["unknown", "withdrawn", "unknown"]


def test_the_most_restrictive_status_wins(workspace, tmp_path):
    assert most_restrictive(["granted", "not-applicable"]) == "granted"
    assert [most_restrictive([s, "not-applicable"]) for s in CONSENT_ORDER] == list(CONSENT_ORDER)
    add_dataset(workspace, copy_of_tiny(tmp_path, "copy", ["img01"]), "copy")

    set_consent(workspace, "tiny/img01", "granted")
    assert effective(workspace, "tiny/img01", "copy/dup01") == ["unknown", "unknown"]
    set_consent(workspace, "copy/dup01", "withdrawn")
    event = set_consent(workspace, "tiny/img01", "granted", "granted again")
    assert effective(workspace, "tiny/img01", "copy/dup01") == ["withdrawn", "withdrawn"]
    assert event.reached == [
        {"image": "copy/dup01", "recorded": "withdrawn", "effective": "withdrawn"},
        {"image": "tiny/img01", "recorded": "granted", "effective": "withdrawn"},
    ]
    with workspace.store().reader() as session:
        image = image_named(session, "tiny/img01")
        assert [copy.image_id for copy in copies_of(session, image)] == ["dup01", "img01"]
        assert withdrawn_copies(session, image.content_sha256) == ["copy/dup01", "tiny/img01"]

    set_consent(workspace, "copy/dup01", "granted")
    assert effective(workspace, "tiny/img01", "copy/dup01") == ["granted", "granted"]
    with workspace.store().reader() as session:
        assert withdrawn_copies(session, image_named(session, "tiny/img01").content_sha256) == []


def test_withdrawn_since_training_names_an_image_withdrawn_on_a_copy(workspace, tiny_config, tmp_path, capsys):
    run_id = train_run(workspace, tiny_config, ONE_STEP)
    trained = next(m.image_key for m in show_run(workspace, run_id).splits if m.role == "train")
    add_dataset(workspace, copy_of_tiny(tmp_path, "copy", [trained.split("/")[1]]), "copy")
    copy = "copy/dup" + trained.removeprefix("tiny/img")
    set_consent(workspace, copy, "withdrawn", "asked after training")
    with workspace.store().reader() as session:
        data = training_data(session, get_run(session, run_id))
    assert data["withdrawn_since_training"] == [trained]
    assert data["consent"] == {"unknown": 5, "withdrawn": 1}
    assert data["excluded_at_training"] == []


def test_init_backfills_content_hashes_of_an_older_workspace(workspace, tmp_path, capsys):
    with workspace.store().transaction() as session:
        session.execute(update(Image).values(content_sha256=None))
    # A file that is gone cannot be hashed: that row stays unhashed, grouped by its file sha256.
    (workspace.root / "data" / "tiny" / "img05.png").unlink()

    code, out, err = cli(capsys, "init", "--no-starter")
    assert code == 0, err
    assert "hashed the pixels of 5 image(s)" in out
    with workspace.store().reader() as session:
        hashes = {i.image_id: i.content_sha256 for i in session.scalars(select(Image))}
    assert hashes.pop("img05") is None
    assert hashes == {i: pixel_sha256(tmp_path / "source" / f"{i}.png") for i in hashes}

    # The unhashed row still shares consent with a byte-identical copy registered later.
    add_dataset(workspace, copy_of_tiny(tmp_path, "copy", ["img05"]), "copy")
    set_consent(workspace, "copy/dup05", "withdrawn")
    assert effective(workspace, "tiny/img05") == ["withdrawn"]
    code, out, _ = cli(capsys, "init", "--no-starter")
    assert code == 0 and "hashed the pixels" not in out


@pytest.mark.parametrize("column, value", [("image_id", "img\x1b[31m00"), ("file", "img00\u202egnp.png")])
def test_an_id_or_file_with_hidden_characters_is_refused(workspace, tmp_path, capsys, column, value):
    source = write_dataset(tmp_path / "hostile", count=2)
    row = {"image_id": "img00", "file": "img00.png"} | {column: value}
    with_manifest(source, [(row["image_id"], row["file"]), ("img01", "img01.png")])
    before = workspace_state(workspace, "hostile")
    code, out, err = cli(capsys, "data", "add", source, "--name", "hostile")
    assert code == 2 and out == ""
    assert f"{column} " in error_line(err) and "control or format characters" in error_line(err)
    assert "\x1b" not in err and "\u202e" not in err
    assert workspace_state(workspace, "hostile") == before


def test_one_picture_in_two_training_datasets_is_used_once(workspace, tiny_config, tmp_path, capsys):
    code, _, err = cli(capsys, "data", "add", copy_of_tiny(tmp_path, "copy", ["img01"]), "--name", "copy")
    assert code == 0, err
    config = tmp_path / "both.yaml"
    config.write_text(tiny_config.read_text().replace("datasets: [tiny]", "datasets: [tiny, copy]"))
    run = show_run(workspace, train_run(workspace, config, ONE_STEP))
    used = [m.image_key for m in run.splits]
    assert "tiny/img01" in used and "copy/dup01" not in used and len(used) == len(set(used)) == 7  # + copy/own
    assert run.excluded == [{"image": "copy/dup01", "reason": "same picture as tiny/img01"}]
