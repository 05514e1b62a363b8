"""The command line: results on stdout, one-line errors with exit code 2, --json everywhere."""

import json

import pytest

from registry.models import Run
from tests.conftest import cli, write_dataset


def test_train_prints_the_run_id_alone_on_the_last_line(workspace, tiny_config, capsys):
    code, out, err = cli(capsys, "train", str(tiny_config), "--set", "train.steps=4", "--set", "train.seed=3")
    assert code == 0, err
    run_id = out.strip().splitlines()[-1]
    code, out, _ = cli(capsys, "runs", "show", run_id[:12], "--json")
    detail = json.loads(out)
    assert detail["id"] == run_id and detail["status"] == "finished"
    assert detail["config"]["train"]["steps"] == 4 and detail["seed"] == 3
    assert detail["environment"]["threads"] == 1 and detail["code"]["source_sha256"]
    assert {a["method"] for a in detail["aggregates"]} == {"model", "noisy", "gaussian"}
    assert "lpips" in detail["evaluation"]["unavailable"] or any(a["metric"] == "lpips" for a in detail["aggregates"])
    assert len(detail["metrics"]) == len(detail["splits"]["test"]) * 3 * (
        2 + ("lpips" not in detail["evaluation"]["unavailable"])
    )

    code, out, _ = cli(capsys, "train", str(tiny_config), "--set", "train.steps=2", "--json")
    assert code == 0 and set(json.loads(out)) == {"run"}

    code, out, _ = cli(capsys, "runs", "list", "--json")
    assert [r["id"] for r in json.loads(out)][0] == run_id
    code, out, _ = cli(capsys, "runs", "list")
    assert code == 0 and run_id in out


def test_audit_command_exit_codes(workspace, tiny_config, capsys):
    code, out, _ = cli(capsys, "train", str(tiny_config), "--set", "train.steps=4")
    run_id = out.strip().splitlines()[-1]
    code, out, _ = cli(capsys, "audit", run_id, "--json")
    assert code == 0 and json.loads(out)["verdict"] == "IDENTICAL"
    with workspace.store().reader() as session:
        checkpoint = session.get(Run, run_id).checkpoints[-1]
    workspace.resolve(checkpoint.path).write_bytes(b"tampered")
    code, out, _ = cli(capsys, "audit", run_id)
    assert code == 1 and out.startswith("INTEGRITY_FAILED") and checkpoint.path in out


def test_data_commands(workspace, tmp_path, capsys):
    source = write_dataset(tmp_path / "extra", count=3)
    code, out, err = cli(capsys, "data", "add", str(source), "--name", "extra", "--json")
    assert code == 0, err
    assert json.loads(out)["images"] == 3
    code, out, _ = cli(capsys, "data", "list", "--json")
    assert [d["name"] for d in json.loads(out)] == ["extra", "tiny"]
    code, out, _ = cli(capsys, "data", "show", "extra", "--json")
    assert [i["image_id"] for i in json.loads(out)["image_list"]] == ["img00", "img01", "img02"]
    code, out, _ = cli(capsys, "consent", "set", "extra/img01", "--status", "withdrawn", "--note", "asked")
    assert code == 0 and "unknown -> withdrawn" in out


def assert_one_line_error(code, out, err, fragment):
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["runs", "show", "no-such-run"], "no run 'no-such-run'"),
        (["audit", "no-such-run"], "no run 'no-such-run'"),
        (["train", "missing.yaml"], "config file not found"),
        (["train"], "missing CONFIG"),
        (["train", "--bogus"], "No such option"),
        (["data", "show", "nope"], "no dataset named 'nope'"),
        (["consent", "set", "tiny/img00", "--status", "maybe"], "not one of"),
    ],
)
def test_bad_input_gets_one_line_and_exit_code_2(workspace, capsys, argv, fragment):
    assert_one_line_error(*cli(capsys, *argv), fragment)


def test_invalid_config_names_the_field_and_records_no_run(workspace, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {datasets: [tiny]}\nmodel: {depth: 4}\n")
    assert_one_line_error(*cli(capsys, "train", str(bad)), "model.depth: 4 is not allowed; allowed: 3, 5, 7")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("data: {datasets: [nope]}\n")
    assert_one_line_error(*cli(capsys, "train", str(unknown)), "no dataset named 'nope'")
    small = tmp_path / "small.yaml"
    small.write_text("data: {datasets: [tiny], patch_size: 64}\n")
    assert_one_line_error(*cli(capsys, "train", str(small)), "smaller than data.patch_size=64")
    with workspace.store().reader() as session:
        assert session.query(Run).count() == 0


def test_commands_find_the_workspace_from_a_subfolder(workspace, monkeypatch, capsys):
    monkeypatch.chdir(workspace.root / "data" / "tiny")
    code, out, _ = cli(capsys, "data", "list", "--json")
    assert code == 0 and [d["name"] for d in json.loads(out)] == ["tiny"]


def test_outside_a_workspace(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(*cli(capsys, "runs", "list"), "not inside a registry workspace")


def test_help_has_examples(capsys):
    for command in (["init"], ["train"], ["audit"], ["data", "add"], ["runs", "show"], ["consent", "set"]):
        code, out, _ = cli(capsys, *command, "--help")
        assert code == 0 and "Example: registry" in out
