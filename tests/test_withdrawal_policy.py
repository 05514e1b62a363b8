"""The `withdrawn-models` policy (issue 10, capability 2): `registry denoise` warns about, or
refuses, a model whose weights depend on a picture whose consent is now withdrawn, naming the
images and the successor command; models that only tested on the picture are not touched."""

import json

from registry.datasets import set_consent
from registry.workspace import setting
from tests.conftest import cli
from tests.withdrawal_fixtures import IMAGE, error_line, said

pytest_plugins = ["tests.withdrawal_fixtures"]  # the `three_runs` and `noisy` fixtures


def test_refuse_blocks_the_two_models_trained_on_the_image_and_not_the_third(three_runs, noisy, tmp_path, capsys):
    assert cli(capsys, "config", "set", "withdrawn-models", "refuse")[0] == 0
    set_consent(three_runs.workspace, IMAGE, "withdrawn", "asked after training")

    for run in three_runs.trained:
        code, out, err = cli(capsys, "denoise", run, noisy, "--out", tmp_path / run, "--sigma", 25, "--no-sign")
        assert code == 2, out + err
        line = error_line(err)
        assert IMAGE in line and f"registry train --successor {run}" in line and "withdrawn-models=refuse" in line
        assert not (tmp_path / run).exists()  # refused before any output was written

    code, out, err = cli(
        capsys, "denoise", three_runs.other, noisy, "--out", tmp_path / "other", "--sigma", 25, "--no-sign"
    )
    assert code == 0, err
    assert (tmp_path / "other" / "noisy.png").is_file() and IMAGE not in err


def test_warn_is_the_default_and_the_outputs_still_say_not_allowed(three_runs, noisy, tmp_path, capsys):
    set_consent(three_runs.workspace, IMAGE, "withdrawn")
    run = three_runs.trained[0]

    code, out, err = cli(capsys, "denoise", run, noisy, "--out", tmp_path / "out", "--sigma", 25, "--json")
    assert code == 0, err
    # One warning (rich wraps it to the terminal's width) naming the image and the successor command.
    warnings = [w for w in " ".join(err.split()).split("warning: ") if "whose consent is now withdrawn" in w]
    assert len(warnings) == 1 and IMAGE in warnings[0] and f"registry train --successor {run}" in warnings[0]
    result = json.loads(out)
    assert result["withdrawn_training_data"]["images"] == [IMAGE]
    assert result["withdrawn_training_data"]["sources"] == ["this registry's records"]
    assert result["outputs"][0]["training_mining"] == "notAllowed"

    # The run that only tested on the image gets no warning.
    code, out, err = cli(
        capsys, "denoise", three_runs.other, noisy, "--out", tmp_path / "other", "--sigma", 25, "--no-sign", "--json"
    )
    assert code == 0 and "withdrawn" not in err
    assert json.loads(out)["withdrawn_training_data"]["images"] == []


def test_refuse_reaches_an_exported_folder_of_an_affected_run(three_runs, noisy, tmp_path, monkeypatch, capsys):
    run = three_runs.trained[1]
    assert cli(capsys, "export", run, "--out", tmp_path / "model")[0] == 0
    set_consent(three_runs.workspace, IMAGE, "withdrawn")
    assert cli(capsys, "config", "set", "withdrawn-models", "refuse")[0] == 0

    # In its registry: the registry's records, not the folder's (older) record, decide.
    code, _, err = cli(capsys, "denoise", tmp_path / "model", noisy, "--out", tmp_path / "out", "--sigma", 25)
    assert code == 2 and IMAGE in error_line(err) and f"--successor {run}" in err

    # Exported after the withdrawal, the folder carries it in its record: a user elsewhere
    # (no workspace, so no policy but the default) is warned from the signed record alone.
    assert cli(capsys, "export", run, "--out", tmp_path / "later")[0] == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, err = cli(capsys, "denoise", tmp_path / "later", noisy, "--out", tmp_path / "out2", "--sigma", 25)
    assert code == 0, err
    assert said(err, IMAGE) and said(err, "the model folder's record (verified claims)")
    assert said(err, "(in the registry that trained it)")


def test_init_and_config_set_the_policies(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("REGISTRY_DB_URL", raising=False)
    code, out, err = cli(capsys, "init", tmp_path / "ws", "--no-starter", "--withdrawn-models", "refuse")
    assert code == 0, err
    assert "withdrawn-models" not in err and setting(tmp_path / "ws", "withdrawn-models") == "refuse"
    monkeypatch.chdir(tmp_path / "ws")
    assert json.loads(cli(capsys, "config", "show", "--json")[1])["withdrawn-models"] == "refuse"
    assert cli(capsys, "config", "set", "withdrawn-models", "warn")[0] == 0
    assert setting(tmp_path / "ws", "withdrawn-models") == "warn"

    code, _, err = cli(capsys, "config", "set", "withdrawn-models", "sometimes")
    assert code == 2 and "warn, refuse" in error_line(err)
    code, _, err = cli(capsys, "config", "set", "withdrawals-location", "relative/list.json")
    assert code == 2 and "absolute path" in error_line(err)
    assert cli(capsys, "config", "set", "withdrawals-location", "https://example.org/withdrawals.json")[0] == 0

    # A bad policy at init creates nothing.
    code, _, err = cli(capsys, "init", tmp_path / "other", "--no-starter", "--withdrawn-models", "never")
    assert code == 2 and "withdrawn-models" in error_line(err) and not (tmp_path / "other").exists()


def test_a_policy_edited_by_hand_into_config_json_is_checked(three_runs, noisy, tmp_path, capsys):
    config = three_runs.workspace.registry_dir / "config.json"
    settings = json.loads(config.read_text()) if config.is_file() else {}
    config.write_text(json.dumps(settings | {"withdrawn_models": "ignore"}))
    set_consent(three_runs.workspace, IMAGE, "withdrawn")
    code, _, err = cli(capsys, "denoise", three_runs.trained[0], noisy, "--out", tmp_path / "o", "--sigma", 25)
    assert code == 2 and "withdrawn-models must be one of" in error_line(err)
    assert not (tmp_path / "o").exists()
