"""registry.files in-process: the defaults every --out relies on (no overwrite without force,
the umask's mode, nothing left behind) and the one-line errors of JSON inputs."""

from __future__ import annotations

import os
import stat

import pytest

from registry.errors import RegistryError
from registry.files import read_json, write_json, write_new


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name)


def test_write_new_creates_its_folder_and_gives_the_umasks_mode(tmp_path, umask_022):
    target = tmp_path / "deeper" / "out.bin"
    assert write_new(target, b"\x00data") == target
    assert target.read_bytes() == b"\x00data"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    write_new(tmp_path / "private.bin", b"x", mode=0o600)
    assert stat.S_IMODE((tmp_path / "private.bin").stat().st_mode) == 0o600
    assert leftovers(target.parent) == [] and leftovers(tmp_path) == []


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
