"""Signed withdrawal lists (issue 10, capability 4): `registry withdrawals publish` signs what the
registry withdraws; `verify` and `denoise` elsewhere report a listed model, or an output's model,
as trained on since-withdrawn data while its signature stays valid; a tampered, malformed or
untrusted list is refused, and another registry's list does not apply."""

import hashlib
import json
import os
from pathlib import Path

from provenance.keys import create_development_keys, load_development_keys
from provenance.signed_documents import sign_document
from registry.datasets import set_consent
from registry.models import Export, Image
from registry.models import WithdrawalList as WithdrawalListRecord
from registry.run_models import MODEL_FILE
from registry.runs import show_run
from tests.conftest import cli
from tests.withdrawal_fixtures import IMAGE, error_line, said

pytest_plugins = ["tests.withdrawal_fixtures"]  # the `three_runs` and `noisy` fixtures


def verify_json(capsys, *argv) -> tuple[int, list[dict]]:
    code, out, err = cli(capsys, "verify", *argv, "--json")
    assert code in (0, 1), err
    return code, json.loads(out)


def elsewhere(tmp_path: Path, monkeypatch) -> None:
    """Leave the workspace: no registry to ask, only the files and the lists."""
    folder = tmp_path / "elsewhere"
    folder.mkdir(exist_ok=True)
    monkeypatch.chdir(folder)


def publish(capsys, out: Path, *extra) -> dict:
    code, stdout, err = cli(capsys, "withdrawals", "publish", "--out", out, *extra, "--json")
    assert code == 0, err
    return json.loads(stdout)


def test_a_published_list_makes_verify_of_an_old_output_report_the_withdrawal(
    three_runs, noisy, tmp_path, monkeypatch, capsys
):
    workspace, (run_a, run_b) = three_runs.workspace, three_runs.trained
    for run in (run_a, three_runs.other):  # signed before the withdrawal
        assert cli(capsys, "denoise", run, noisy, "--out", tmp_path / run, "--sigma", 25)[0] == 0
    old_output, other_output = tmp_path / run_a / "noisy.png", tmp_path / three_runs.other / "noisy.png"
    set_consent(workspace, IMAGE, "withdrawn", "asked after signing")

    listed = tmp_path / "withdrawals.json"
    info = publish(capsys, listed)
    assert (info["withdrawn_pictures"], info["affected_runs"]) == (1, 2)
    payload = json.loads(listed.read_text())["payload"]
    with workspace.store().reader() as session:
        image = next(i for i in session.query(Image) if i.image_id == "img01")
        (record,) = session.query(WithdrawalListRecord).all()
    assert payload["workspace_id"] == info["workspace_id"] and payload["signed_at"] == info["signed_at"]
    assert payload["withdrawn"] == [
        {"content_sha256": image.content_sha256, "file_sha256": [image.sha256], "images": [IMAGE]}
    ]
    finals = {run: show_run(workspace, run).checkpoints[-1].sha256 for run in (run_a, run_b)}
    assert {r["run_id"]: (r["final_checkpoint_sha256"], r["images"]) for r in payload["affected_runs"]} == {
        run: (finals[run], [IMAGE]) for run in (run_a, run_b)
    }
    assert (record.sha256, record.images, record.runs) == (hashlib.sha256(listed.read_bytes()).hexdigest(), 1, 2)
    assert "asked after signing" not in listed.read_text()  # consent notes stay in the registry

    # Inside the workspace the registry itself says so, list or not.
    code, (report,) = verify_json(capsys, old_output)
    assert code == 0 and report["withdrawn_training_data"] == [IMAGE]
    assert (
        f"TRAINED ON SINCE-WITHDRAWN DATA: consent for {IMAGE} was withdrawn after the model was trained (the "
        f"records of registry {payload['workspace_id']}); the signature stays valid, the model should not be used"
    ) in report["notes"]

    elsewhere(tmp_path, monkeypatch)
    code, (report,) = verify_json(capsys, old_output)
    assert code == 0 and report["withdrawn_training_data"] is None  # nobody told this verifier
    assert report["registry"] == "not checked"
    assert "registry not checked: no registry here (give --db or run inside its workspace)" in report["notes"]
    code, (report, other) = verify_json(capsys, old_output, other_output, "--withdrawals", listed)
    assert code == 0 and report["ok"] and report["reason"] == "ok"
    assert report["withdrawn_training_data"] == [IMAGE]
    assert report["withdrawal_list"]["status"] == "listed"
    assert any(note.startswith("TRAINED ON SINCE-WITHDRAWN DATA") and IMAGE in note for note in report["notes"])
    assert other["ok"] and other["withdrawn_training_data"] is None
    assert other["withdrawal_list"]["status"] == "not listed"

    code, out, err = cli(capsys, "verify", old_output, "--withdrawals", listed)
    assert code == 0 and "TRAINED ON SINCE-WITHDRAWN DATA" in out


def test_tampered_untrusted_and_malformed_lists_are_refused(three_runs, noisy, tmp_path, capsys):
    set_consent(three_runs.workspace, IMAGE, "withdrawn")
    listed = tmp_path / "withdrawals.json"
    publish(capsys, listed)
    document = json.loads(listed.read_text())
    run_a = three_runs.trained[0]

    # One byte of the payload changed: a listed run's checkpoint hash.
    final = document["payload"]["affected_runs"][0]["final_checkpoint_sha256"]
    raw = listed.read_bytes()
    at = raw.index(final.encode())
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(raw[:at] + (b"0" if raw[at : at + 1] != b"0" else b"1") + raw[at + 1 :])

    stranger = create_development_keys(tmp_path / "stranger")  # a CA this user never chose
    untrusted = tmp_path / "untrusted.json"
    untrusted.write_text(json.dumps(sign_document(document["payload"], stranger)))

    own = load_development_keys(three_runs.workspace.registry_dir / "keys")
    wrong_format = tmp_path / "wrong-format.json"
    wrong_format.write_text(json.dumps(sign_document({"format": "something-else", "workspace_id": "x"}, own)))
    not_json = tmp_path / "not-json.json"
    not_json.write_text('{"payload": ')
    not_signed = tmp_path / "not-signed.json"
    not_signed.write_text(json.dumps(document["payload"]))

    cases = {
        tampered: "changed after signing",
        untrusted: "whose CA you do not trust",
        wrong_format: "malformed",
        not_json: "malformed: not JSON",
        not_signed: "not a signed document",
        tmp_path / "missing.json": "cannot read withdrawal list",
    }
    for bad, why in cases.items():
        code, _, err = cli(capsys, "verify", noisy, "--withdrawals", bad)
        assert code == 2 and why in error_line(err), (bad.name, err)
        code, _, err = cli(
            capsys, "denoise", run_a, noisy, "--out", tmp_path / "out", "--sigma", 25, "--withdrawals", bad
        )
        assert code == 2 and why in error_line(err), (bad.name, err)
    assert not (tmp_path / "out").exists()


def test_a_list_from_another_registry_does_not_apply(three_runs, noisy, tmp_path, monkeypatch, capsys):
    run_a = three_runs.trained[0]
    assert cli(capsys, "denoise", run_a, noisy, "--out", tmp_path / "out", "--sigma", 25)[0] == 0
    set_consent(three_runs.workspace, IMAGE, "withdrawn")
    listed = tmp_path / "withdrawals.json"
    publish(capsys, listed)
    payload = json.loads(listed.read_text())["payload"] | {"workspace_id": "another-registry"}
    own = load_development_keys(three_runs.workspace.registry_dir / "keys")
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps(sign_document(payload, own)))

    elsewhere(tmp_path, monkeypatch)
    code, (report,) = verify_json(capsys, tmp_path / "out" / "noisy.png", "--withdrawals", foreign)
    assert code == 0 and report["withdrawn_training_data"] is None
    assert report["withdrawal_list"]["status"] == "not applicable"
    assert any("not applicable" in note and "another-registry" in note for note in report["notes"])


def test_publish_writes_atomically_and_never_over_a_file_or_through_a_link(three_runs, tmp_path, capsys):
    listed = tmp_path / "withdrawals.json"
    listed.write_text("someone's file")
    code, _, err = cli(capsys, "withdrawals", "publish", "--out", listed)
    assert code == 2 and "--force" in error_line(err) and listed.read_text() == "someone's file"

    target = tmp_path / "target.txt"
    target.write_text("keep me")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    code, _, err = cli(capsys, "withdrawals", "publish", "--out", link, "--force")
    assert code == 2 and "symbolic link" in error_line(err) and target.read_text() == "keep me"

    publish(capsys, listed, "--force")
    assert json.loads(listed.read_text())["payload"]["affected_runs"] == []  # nothing withdrawn yet
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".partial")]
    with three_runs.workspace.store().reader() as session:
        assert session.query(WithdrawalListRecord).count() == 1


def test_an_exported_folder_records_the_location_and_denoise_picks_the_list_up(
    three_runs, noisy, tmp_path, monkeypatch, capsys
):
    workspace, run_a = three_runs.workspace, three_runs.trained[0]
    location = tmp_path / "published" / "withdrawals.json"
    assert cli(capsys, "config", "set", "withdrawals-location", location)[0] == 0
    assert cli(capsys, "export", run_a, "--out", tmp_path / "model")[0] == 0
    assert json.loads((tmp_path / "model" / MODEL_FILE).read_text())["withdrawals_location"] == str(location)
    with workspace.store().reader() as session:
        assert [e.withdrawals_location for e in session.query(Export)] == [str(location)]
    set_consent(workspace, IMAGE, "withdrawn")
    publish(capsys, location)

    # Somewhere else, with the folder exported before the withdrawal: only the list can tell.
    elsewhere(tmp_path, monkeypatch)
    code, out, err = cli(
        capsys, "denoise", tmp_path / "model", noisy, "--out", tmp_path / "out", "--sigma", 25, "--json"
    )
    assert code == 0, err
    assert all(said(err, text) for text in (IMAGE, f"withdrawal list {location}", f"--successor {run_a}"))
    result = json.loads(out)
    assert result["withdrawn_training_data"]["images"] == [IMAGE]
    assert result["withdrawn_training_data"]["sources"] == [f"withdrawal list {location}"]
    assert result["withdrawn_training_data"]["withdrawal_list"]["status"] == "listed"
    code, (report,) = verify_json(capsys, tmp_path / "model")  # the folder itself: still verifies, and listed
    assert code == 0 and report["withdrawn_training_data"] == [IMAGE]
    assert report["withdrawal_list"]["status"] == "listed" and report["withdrawal_list"]["source"] == str(location)
    # The output names the list's location and the withdrawn image in its signed lineage.
    code, (report,) = verify_json(capsys, tmp_path / "out" / "noisy.png")
    assert code == 0 and report["withdrawn_training_data"] == [IMAGE]
    assert report["training_mining"] == "notAllowed"

    # A location that is a URL is named, not fetched.
    monkeypatch.chdir(workspace.root)
    assert cli(capsys, "config", "set", "withdrawals-location", "https://example.org/withdrawals.json")[0] == 0
    assert cli(capsys, "export", three_runs.other, "--out", tmp_path / "other")[0] == 0
    elsewhere(tmp_path, monkeypatch)
    code, out, err = cli(capsys, "denoise", tmp_path / "other", noisy, "--out", tmp_path / "out3", "--sigma", 25)
    assert code == 0, err
    assert said(err, "https://example.org/withdrawals.json; not fetched")
    code, (report,) = verify_json(capsys, tmp_path / "other")
    assert code == 0 and report["withdrawal_list"]["status"] == "not fetched"


def test_a_report_names_each_withdrawn_image_once_and_still_verifies():
    from registry.verifying import FileReport

    report = FileReport(Path("output.png"), True, "ok")
    report.withdrawn(["img02", "img01"], "withdrawal list A")
    report.withdrawn(["img01"], "the records of registry B")
    assert report.ok and report.withdrawn_training_data == ["img01", "img02"]
    assert report.notes[0] == (
        "TRAINED ON SINCE-WITHDRAWN DATA: consent for img01, img02 was withdrawn after the model was trained "
        "(withdrawal list A); the signature stays valid, the model should not be used"
    )
