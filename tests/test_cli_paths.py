"""CLI paths as a user runs them: checks come before anything is made."""

from __future__ import annotations

from tests.conftest import cli


def test_denoise_checks_its_inputs_before_making_signing_keys(workspace, signed_model, tmp_path, capsys):
    keys = workspace.root / ".registry" / "keys"
    assert not keys.exists()
    (tmp_path / "broken.png").write_bytes(b"not a png")
    code, _, err = cli(
        capsys,
        "denoise",
        signed_model.folder,
        tmp_path / "broken.png",
        "--out",
        "out",
        "--sigma",
        25,
        "--trust",
        signed_model.ca,
    )
    assert code == 2 and "broken.png" in err
    assert not keys.exists() and not (workspace.root / "out").exists()
