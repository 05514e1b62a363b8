"""No laundering (issue 9, capability 5): an input whose pixels or manifest changed since it
was signed is refused unless the user accepts it, and then the output says so; an intact
input from a signer the user does not trust is accepted and recorded as such; inputs signed
under the user's own CA are recorded as trusted."""

import json
from pathlib import Path

import pytest

from provenance.keys import create_development_keys
from provenance.verification import parent_validation, verify_image
from tests.c2pa_files import bomb_png, edit_manifest, plain_png, repaint_pixel, signed_png
from tests.conftest import cli


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def model(signed_model):
    return [signed_model.folder, "--trust", signed_model.ca]


def denoise(capsys, model, image, out, *extra):
    return cli(capsys, "denoise", model[0], image, "--out", out, "--sigma", 25, "--json", *model[1:], *extra)


def verify_json(capsys, path):
    code, out, _ = cli(capsys, "verify", path, "--json")
    return code, json.loads(out)[0]


@pytest.fixture
def own_output(model, tmp_path, capsys):
    """An output signed with this user's development keys, to use as an input."""
    code, _, err = denoise(capsys, model, plain_png(tmp_path / "noisy.png"), "first")
    assert code == 0, err
    return tmp_path / "first" / "noisy.png"


def repainted(path, out):
    return repaint_pixel(path, out)


def manifest_edited(path, out):
    return edit_manifest(path, out, b"notAllowed", b"allowedXXX")


@pytest.mark.parametrize("tamper, reason", [(repainted, "pixels changed"), (manifest_edited, "manifest changed")])
def test_a_tampered_input_is_refused_unless_accepted(model, own_output, tmp_path, capsys, tamper, reason):
    tampered = tamper(own_output, tmp_path / "tampered.png")
    code, _, err = denoise(capsys, model, tampered, "refused")
    assert code == 2 and reason in err and "--accept-invalid-input" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "refused").exists()

    code, out, err = denoise(capsys, model, tampered, "accepted", "--accept-invalid-input")
    assert code == 0, err
    code, report = verify_json(capsys, tmp_path / "accepted" / "tampered.png")
    assert code == 0  # the output itself is intact and says what it was made from
    assert report["input"]["accepted_invalid"] and report["input"]["reason"].startswith(reason)
    assert any("INPUT FAILED VERIFICATION" in note for note in report["notes"])


def test_an_intact_input_from_an_untrusted_signer_is_accepted_and_recorded(model, tmp_path, capsys):
    camera = signed_png(tmp_path / "camera.png", create_development_keys(tmp_path / "camera-keys"))
    code, _, err = denoise(capsys, model, camera, "out")
    assert code == 0, err
    code, report = verify_json(capsys, tmp_path / "out" / "camera.png")
    assert code == 0 and report["input"]["manifest"] == "intact, untrusted signer"
    assert not report["input"]["accepted_invalid"]
    assert any("input was signed by" in note and "untrusted" in note for note in report["notes"])


def test_an_input_signed_under_the_users_own_ca_is_recorded_as_trusted(model, own_output, capsys):
    code, _, err = denoise(capsys, model, own_output, "again")
    assert code == 0, err
    again = own_output.parent.parent / "again" / "noisy.png"
    code, report = verify_json(capsys, again)
    assert code == 0 and report["input"]["manifest"] == "trusted"
    # The ingredient's own stored validation no longer says "untrusted": signing passed the anchors.
    assert parent_validation(verify_image(again, []))["reason"] == "ok"


def test_a_signed_input_cannot_hide_behind_another_file_name(model, own_output, tmp_path, capsys):
    """The format is read from the bytes: a tampered PNG named .bin or .pgm is still checked."""
    for name in ("tampered.bin", "tampered.pgm"):
        renamed = repaint_pixel(own_output, tmp_path / name)
        code, _, err = denoise(capsys, model, renamed, "renamed")
        assert code == 2 and "pixels changed" in err, err
    assert not (tmp_path / "renamed").exists()


def test_a_failed_signature_leaves_no_unsigned_output(model, tmp_path, capsys):
    noisy = plain_png(tmp_path / "noisy.png")
    code, _, err = denoise(capsys, model, noisy, "out", "--tsa-url", "http://127.0.0.1:9/")  # nobody answers
    assert code == 2 and "signing" in err
    assert list((tmp_path / "out").iterdir()) == []


def test_verify_refuses_what_is_not_an_image(tmp_path, capsys):
    (tmp_path / "junk.png").write_bytes(b"not a picture at all")
    code, _, err = cli(capsys, "verify", tmp_path / "junk.png")
    assert code == 2 and "not an image" in err


def test_verify_refuses_a_decompression_bomb_and_still_checks_the_rest(own_output, tmp_path, capsys):
    """A file that cannot be opened within the pixel budget fails alone (exit 2, its reason);
    the signed output beside it is still verified."""
    bomb = bomb_png(tmp_path / "bomb.png")
    code, out, _ = cli(capsys, "verify", bomb, own_output, "--json")
    reports = {Path(report["file"]).name: report for report in json.loads(out)}
    assert code == 2
    assert reports["bomb.png"]["unreadable"] and "over the pixel budget" in reports["bomb.png"]["reason"]
    assert reports["noisy.png"]["ok"] and reports["noisy.png"]["reason"] == "ok"
    code, _, _ = cli(capsys, "verify", bomb, own_output, "--max-pixels", 4_000_000_000)
    assert code == 1  # within a raised budget it is an image, one without a manifest


def test_the_input_signed_into_the_output_is_the_one_that_was_checked(model, tmp_path, monkeypatch, capsys):
    """An input replaced right after its check (by a file with someone's valid manifest) must not
    become the output's ingredient: decoding, checking and signing use one private copy."""
    import registry.denoising as denoising

    noisy = plain_png(tmp_path / "noisy.png")
    other = signed_png(tmp_path / "other.png", create_development_keys(tmp_path / "someone"))
    check = denoising.check_input

    def check_then_swap(path, *args, **kwargs):
        result = check(path, *args, **kwargs)
        noisy.write_bytes(other.read_bytes())
        return result

    monkeypatch.setattr(denoising, "check_input", check_then_swap)
    code, _, err = denoise(capsys, model, noisy, "out")
    assert code == 0, err
    (ingredient,) = verify_image(tmp_path / "out" / "noisy.png", []).ingredients
    assert "active_manifest" not in ingredient  # the checked input had none; the swapped-in file has one


def test_an_unreadable_file_is_named_as_the_user_gave_it(tmp_path):
    """Commands check a private copy of each input: the error must name the user's file, not the copy
    (a mutation run found nothing checked which name the message carries)."""
    from registry.errors import RegistryError
    from registry.photos import check_readable_image

    copy, shown = bomb_png(tmp_path / "private-copy.png"), Path("holiday/photo.png")
    (tmp_path / "junk-copy.png").write_bytes(b"not a picture at all")
    for path in (copy, tmp_path / "junk-copy.png"):
        with pytest.raises(RegistryError) as caught:
            check_readable_image(path, shown=shown)
        assert "holiday/photo.png" in str(caught.value) and "copy" not in str(caught.value), caught.value


def test_an_unreadable_file_reports_ok_false_in_json(tmp_path, capsys):
    bomb = bomb_png(tmp_path / "bomb.png")
    code, out, _ = cli(capsys, "verify", bomb, "--json")
    (report,) = json.loads(out)
    assert code == 2 and report["ok"] is False and report["unreadable"] is True
