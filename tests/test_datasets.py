"""Registering datasets: what is recorded, and bad input that must leave no trace."""

import csv
import hashlib
import shutil

import pytest
from PIL import Image

from registry import dvc
from registry.datasets import add_dataset, list_datasets, show_dataset
from registry.errors import RegistryError
from tests.conftest import cli, write_dataset


def test_manifest_rows_are_recorded_with_hashes_licences_and_consent(workspace, tmp_path):
    source = write_dataset(tmp_path / "more", count=3, consent={"img01": "withdrawn"})
    before = dvc.data_version(workspace.root)[0]
    dataset = add_dataset(workspace, source, "more", source="unit test", license="CC-BY-4.0")
    detail = show_dataset(workspace, "more")
    assert dataset.dvc_version != before and dvc.data_version(workspace.root)[0] == dataset.dvc_version
    assert [i.image_id for i in detail.images] == ["img00", "img01", "img02"]
    image = detail.images[1]
    assert image.consent == "withdrawn" and image.license == "CC0-1.0" and image.path == "data/more/img01.png"
    assert (workspace.root / image.path).read_bytes() == (source / "img01.png").read_bytes()
    assert (workspace.root / "data/more/MANIFEST.csv").is_file()
    assert dvc.status_clean(workspace.root)


def test_folder_without_manifest_registers_every_image(workspace, tmp_path):
    source = write_dataset(tmp_path / "plain", count=2)
    (source / "MANIFEST.csv").unlink()
    (source / "README.txt").write_text("not an image, not an image suffix")
    add_dataset(workspace, source, "plain", license="CC0-1.0")
    images = show_dataset(workspace, "plain").images
    assert [(i.image_id, i.license, i.consent) for i in images] == [
        ("img00", "CC0-1.0", "unknown"),
        ("img01", "CC0-1.0", "unknown"),
    ]


def test_colour_images_record_their_luminance_conversion(workspace, tmp_path):
    folder = tmp_path / "colour"
    folder.mkdir()
    Image.new("RGB", (20, 20), (200, 10, 10)).save(folder / "red.png")
    add_dataset(workspace, folder, "colour")
    image = show_dataset(workspace, "colour").images[0]
    assert image.mode == "RGB" and "ITU-R 601-2" in image.conversion


def snapshot(workspace):
    return (
        sorted(p.name for p in workspace.data_dir.iterdir()),
        (workspace.root / dvc.DATA_DVC).read_bytes(),
        [d.name for d in list_datasets(workspace)],
    )


def manifest_with(folder, rows):
    with open(folder / "MANIFEST.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image_id", "file"])
        writer.writeheader()
        writer.writerows(rows)


def unlisted_and_broken(folder) -> None:
    (folder / "MANIFEST.csv").unlink()
    (folder / "img01.png").write_text("this is not a png")


@pytest.mark.parametrize(
    "break_it, message",
    [
        (
            lambda f: (f / "img01.png").write_text("this is not a png"),
            "{manifest} row 2: not an image: {source}/img01.png",
        ),
        (
            lambda f: (f / "img01.png").write_bytes((f / "img01.png").read_bytes()[:120]),
            "{manifest} row 2: unreadable image {source}/img01.png: image file is truncated",
        ),
        (
            lambda f: manifest_with(f, [{"image_id": "a", "file": "../outside.png"}]),
            "{manifest} row 1: path '../outside.png' leaves the dataset folder",
        ),
        (lambda f: manifest_with(f, []), "no images to register in {manifest}"),
        (
            lambda f: manifest_with(f, [{"image_id": "a", "file": "missing.png"}]),
            "{manifest} row 1: image not found: {source}/missing.png",
        ),
        (
            lambda f: (f / "MANIFEST.csv").write_text("image_id,file,sha256\nx,img00.png," + "0" * 64 + "\n"),
            "{manifest} row 1: img00.png has sha256 {img00}, manifest says " + "0" * 64,
        ),
        (lambda f: manifest_with(f, [{"image_id": "a", "file": ""}]), "{manifest} row 1: empty 'file'"),
        (
            lambda f: (f / "MANIFEST.csv").write_text("image_id,file,consent\nx,img00.png,maybe\n"),
            "{manifest} row 1: consent 'maybe' is not one of granted, withdrawn, unknown, not-applicable",
        ),
        (unlisted_and_broken, "{source}: not an image: {source}/img01.png"),
        (
            lambda f: manifest_with(
                f, [{"image_id": "a", "file": "img00.png"}, {"image_id": "a", "file": "img01.png"}]
            ),
            "{manifest}: image_id 'a' appears twice",
        ),
        (shutil.rmtree, "dataset folder not found: {source}"),
        (
            lambda f: (f / "MANIFEST.csv").write_text("image_id,path\nx,img00.png\n"),
            "manifest {manifest} needs a 'file' column",
        ),
        (
            lambda f: (f / "MANIFEST.csv").write_bytes(b"\xffimage_id,file\n"),
            "cannot read manifest {manifest}: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
        ),
    ],
    ids=[
        "not-an-image",
        "truncated",
        "path-escape",
        "empty-manifest",
        "missing-file",
        "hash-mismatch",
        "empty-file",
        "unknown-consent",
        "no-manifest",
        "duplicate-id",
        "no-folder",
        "no-file-column",
        "not-utf-8",
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(workspace, tmp_path, break_it, message):
    """One line naming the manifest row (or the folder) and what is wrong; nothing recorded."""
    source = write_dataset(tmp_path / "bad", count=3)
    (tmp_path / "outside.png").write_bytes((source / "img00.png").read_bytes())
    img00 = hashlib.sha256((source / "img00.png").read_bytes()).hexdigest()
    break_it(source)
    before = snapshot(workspace)
    with pytest.raises(RegistryError) as refused:
        add_dataset(workspace, source, "bad")
    assert str(refused.value) == message.format(manifest=source / "MANIFEST.csv", source=source, img00=img00)
    assert snapshot(workspace) == before


def test_empty_folder_and_duplicate_names_are_refused(workspace, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RegistryError, match="no images to register"):
        add_dataset(workspace, tmp_path / "empty", "empty")
    with pytest.raises(RegistryError, match="already registered"):
        add_dataset(workspace, write_dataset(tmp_path / "again"), "tiny")
    with pytest.raises(RegistryError, match="invalid dataset name"):
        add_dataset(workspace, write_dataset(tmp_path / "again"), "../evil")


def test_a_failing_dvc_step_rolls_back_the_copy(workspace, tmp_path, monkeypatch):
    before = snapshot(workspace)

    def broken(root):
        raise RuntimeError("disk full")

    monkeypatch.setattr(dvc, "add_data", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        add_dataset(workspace, write_dataset(tmp_path / "x"), "x")
    assert snapshot(workspace) == before


def test_a_folder_without_a_manifest_is_registered_with_a_warning_saying_how(workspace, tmp_path, capsys):
    folder = write_dataset(tmp_path / "bare")
    (folder / "MANIFEST.csv").unlink()
    code, _, err = cli(capsys, "data", "add", folder, "--name", "bare")
    err = " ".join(err.split())  # the terminal wraps long lines
    assert code == 0
    assert "bare has no MANIFEST.csv" in err and "6 have no licence (NOASSERTION" in err
    assert "registry consent set" in err
    code, _, err = cli(capsys, "data", "add", write_dataset(tmp_path / "described"), "--name", "described")
    assert code == 0 and "MANIFEST" not in err  # a manifest said what it knows, unknown consent included


def test_manifest_columns_are_recorded_as_written_with_the_folders_defaults(tmp_path):
    """source, attribution and notes come from the row (a quoted line break kept as written); a
    missing source from --source; a sha256 in capitals is the same hash. Progress counts rows."""
    from registry.manifests import read_entries

    source = write_dataset(tmp_path / "cols", count=2)
    img00 = hashlib.sha256((source / "img00.png").read_bytes()).hexdigest()
    (source / "MANIFEST.csv").write_bytes(
        b"image_id,file,sha256,source,attribution,notes\r\n"
        + f'a,img00.png,{img00.upper()},museum scan,Ana B.,"a person:\r\nthe curator"\r\n'.encode()
        + b"b,img01.png,,,,\r\n"
    )
    progress = []
    first, second = read_entries(
        source, source / "MANIFEST.csv", None, "given with --source", lambda *counts: progress.append(counts)
    )
    assert progress == [(1, 2), (2, 2)]
    assert (first.source, first.attribution, first.notes) == ("museum scan", "Ana B.", "a person:\r\nthe curator")
    assert first.sha256 == img00
    assert (second.source, second.attribution, second.notes) == ("given with --source", "", "")
    (only,) = read_entries(source, None, None, None)[:1]
    assert (only.source, only.attribution, only.notes) == ("", "", "")


def test_a_path_that_leaves_its_root_is_named_in_one_line(tmp_path):
    from registry.workspace import inside

    (tmp_path / "root").mkdir()
    assert inside(tmp_path / "root", "a/b.png") == (tmp_path / "root" / "a" / "b.png").resolve()
    for escaping in ("../x.png", "/etc/passwd"):
        with pytest.raises(RegistryError) as refused:
            inside(tmp_path / "root", escaping)
        assert str(refused.value) == f"path {escaping!r} leaves {tmp_path / 'root'}"
