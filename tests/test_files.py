"""registry.files in-process: the defaults every --out relies on (no overwrite without force,
the umask's mode, nothing left behind) and the one-line errors of JSON inputs."""

from __future__ import annotations

import os
import stat

import pytest

from registry import files
from registry.errors import RegistryError
from registry.files import check_target, place, read_json, staging_path, write_json, write_new


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name)


def test_write_new_creates_its_folder_and_gives_the_umasks_mode(tmp_path, umask_022):
    target = tmp_path / "two" / "deeper" / "out.bin"
    assert write_new(target, b"\x00data") == target
    assert target.read_bytes() == b"\x00data"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    write_new(tmp_path / "private.bin", b"x", mode=0o600)
    assert stat.S_IMODE((tmp_path / "private.bin").stat().st_mode) == 0o600
    assert leftovers(target.parent) == [] and leftovers(tmp_path) == []


def test_the_staging_file_is_hidden_beside_its_target(tmp_path):
    """Beside it, so the rename is atomic (one file system); hidden and marked partial, so a
    half-written file is never taken for an output."""
    staged = staging_path(tmp_path / "photo.png")
    assert staged.parent == tmp_path and staged.is_file()
    assert staged.name.startswith(".photo.") and staged.name.endswith(".partial.png")


def test_check_target_and_place_refuse_an_existing_file_by_default(tmp_path, umask_022):
    target = tmp_path / "out.bin"
    check_target(target)  # nothing there yet
    target.write_bytes(b"keep")
    with pytest.raises(RegistryError, match="already exists"):
        check_target(target)
    staged = staging_path(target)
    staged.write_bytes(b"new")
    with pytest.raises(RegistryError, match="already exists"):
        place(staged, target)
    assert target.read_bytes() == b"keep"
    target.unlink()
    place(staged, target)
    assert target.read_bytes() == b"new" and not staged.exists()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # 0666 less the umask


def test_a_file_that_appears_after_the_check_is_not_clobbered(tmp_path, monkeypatch):
    """The check and the rename are two steps: without --force the name is taken with a hard
    link, which fails on a name someone took in between."""
    target = tmp_path / "out.bin"
    staged = staging_path(target)
    staged.write_bytes(b"new")
    target.write_bytes(b"theirs")
    monkeypatch.setattr(files, "check_target", lambda path, force=False: None)  # the race: checked before it appeared
    with pytest.raises(RegistryError) as refused:
        place(staged, target)
    assert str(refused.value) == f"{target} already exists; pass --force to replace it"
    assert target.read_bytes() == b"theirs"


def test_without_hard_links_the_file_is_still_placed(tmp_path, monkeypatch):
    def no_hard_links(*args, **kwargs):
        raise PermissionError("hard links not supported")

    monkeypatch.setattr(files.os, "link", no_hard_links)
    target = write_new(tmp_path / "out.bin", b"data")
    assert target.read_bytes() == b"data" and leftovers(tmp_path) == []


def test_write_new_keeps_an_existing_file_unless_forced(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"keep")
    with pytest.raises(RegistryError) as refused:
        write_new(target, b"new")
    assert str(refused.value) == f"{target} already exists; pass --force to replace it"
    assert target.read_bytes() == b"keep" and leftovers(tmp_path) == []
    write_new(target, b"new", force=True)
    assert target.read_bytes() == b"new" and leftovers(tmp_path) == []


def test_write_new_never_writes_through_a_link_even_when_forced(tmp_path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (tmp_path / "out.bin").symlink_to(victim)
    for force in (False, True):
        with pytest.raises(RegistryError) as refused:
            write_new(tmp_path / "out.bin", b"new", force=force)
        assert str(refused.value) == f"{tmp_path / 'out.bin'} is a symbolic link; refusing to write through it"
    assert victim.read_bytes() == b"precious" and leftovers(tmp_path) == []


def test_write_json_is_sorted_indented_and_ends_with_a_newline(tmp_path):
    target = write_json(tmp_path / "out.json", {"b": 1, "a": [1, 2]})
    assert target.read_text() == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'
    with pytest.raises(RegistryError):
        write_json(target, {})
    write_json(target, {}, force=True)
    assert target.read_text() == "{}\n"


def test_read_json_gives_one_line_for_a_missing_or_malformed_file(tmp_path):
    (tmp_path / "good.json").write_text('{"a": 1}')
    assert read_json(tmp_path / "good.json", "proof") == {"a": 1}
    with pytest.raises(RegistryError) as missing:
        read_json(tmp_path / "absent.json", "proof")
    assert str(missing.value) == f"cannot read proof {tmp_path / 'absent.json'}: No such file or directory"
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(RegistryError) as malformed:
        read_json(tmp_path / "bad.json", "proof")
    assert str(malformed.value).startswith(f"proof {tmp_path / 'bad.json'} is not JSON: ")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe")
    with pytest.raises(RegistryError) as binary:
        read_json(tmp_path / "binary.json", "proof")
    assert "is not JSON" in str(binary.value)


def test_a_folder_at_the_target_is_refused_even_when_forced(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(RegistryError) as refused:
        write_new(tmp_path / "out", b"x", force=True)
    assert str(refused.value) == f"{tmp_path / 'out'} exists and is not a file"


def test_the_umask_falls_back_to_the_usual_one_where_proc_is_unreadable(monkeypatch):
    def unreadable(self, *args, **kwargs):
        raise PermissionError("no /proc here")

    monkeypatch.setattr(files.Path, "read_text", unreadable)
    assert files.current_umask() == 0o022
