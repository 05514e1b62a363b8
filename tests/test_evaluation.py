"""`registry eval`: recorded tables, consent exclusions and the override, and the study's tables."""

import csv
import json

import pytest

from audits.audit import audit_run
from registry.cli import run as cli_run
from registry.datasets import add_dataset, set_consent
from registry.errors import RegistryError
from registry.evaluations import EvalRequest, evaluate_run, show_evaluations
from registry.runs import show_run
from registry.tables import EvalView, ablation_components, table1, table2, table3
from tests.conftest import write_dataset


@pytest.fixture
def workspace(trained_workspace):
    """This module's tests start after training: a copy of a trained workspace (conftest)."""
    return trained_workspace.workspace


@pytest.fixture
def trained(trained_workspace, tmp_path):
    run_id = trained_workspace.run_id
    workspace = trained_workspace.workspace
    add_dataset(workspace, write_dataset(tmp_path / "bench", count=4), "bench")
    set_consent(workspace, "bench/img02", "withdrawn", "asked to be removed")
    return run_id


def test_withdrawn_images_are_left_out_and_the_tables_say_so(workspace, trained, tmp_path):
    (evaluation_id,) = evaluate_run(
        workspace,
        trained,
        EvalRequest(["bench"], {"sigmas": [15.0, 25.0], "baselines": ["gaussian", "tv"]}, out=tmp_path / "t"),
    )
    (evaluation,) = show_evaluations(workspace, [evaluation_id])
    assert evaluation.excluded == [{"image": "bench/img02", "reason": "consent withdrawn"}]
    view = EvalView.of_evaluation(evaluation)
    assert view.images == ["bench/img00", "bench/img01", "bench/img03"]
    assert set(view.methods) == {"model", "noisy", "gaussian", "tv"}

    # Tables are drawn from the very numbers recorded.
    row = table1(view, 25.0)[0]
    assert row["Proposed_PSNR"] == view.values[("bench/img00", 25.0, "model", "psnr")]
    assert row["Baseline"] in ("gaussian", "tv") and row["Memory_MB"] is not None
    (agg,) = [r for r in table2(view) if r["Sigma"] == 25.0]
    assert agg["Images"] == 3 and agg["Mean_PSNR"] == pytest.approx(sum(view.series(25.0, "model", "psnr")) / 3)
    assert agg["Mean_LPIPS"] == "n/a" or isinstance(agg["Mean_LPIPS"], float)

    with open(tmp_path / "t" / "per_image.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["image"] for r in rows} == set(view.images) and len(rows) == 3 * 2 * 4
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    assert "lpips" in summary["unavailable"] or rows[0]["lpips"]


def test_including_withdrawn_images_needs_a_reason_and_records_it(workspace, trained):
    with pytest.raises(RegistryError, match="needs --reason"):
        evaluate_run(workspace, trained, EvalRequest(["bench"], {}, include_withdrawn=True))
    ids = evaluate_run(
        workspace,
        trained,
        EvalRequest(["bench"], {"sigmas": [25.0]}, include_withdrawn=True, reason="compare with published"),
    )
    (evaluation,) = show_evaluations(workspace, ids)
    assert evaluation.include_withdrawn and evaluation.reason == "compare with published" and evaluation.excluded == []
    assert "bench/img02" in EvalView.of_evaluation(evaluation).images
    assert table3([EvalView.of_evaluation(evaluation)])[0]["Dataset_ID"] == "bench (withdrawn included)"


def test_later_evaluations_do_not_touch_the_audited_table(workspace, trained):
    before = sorted((m.image_key, m.method, m.metric, m.value) for m in show_run(workspace, trained).metrics)
    evaluate_run(workspace, trained, EvalRequest([], {"sigmas": [50.0], "protocol": "png8", "blind": True}))
    run = show_run(workspace, trained)
    assert sorted((m.image_key, m.method, m.metric, m.value) for m in run.metrics) == before
    assert run.evaluations[0].dataset == "test split" and run.evaluations[0].details["sigma_used"]
    assert audit_run(workspace, trained).verdict == "IDENTICAL"


def test_eval_command(workspace, trained, capsys):
    code = cli_run(["eval", trained, "--dataset", "bench", "--sigma", "25", "--baselines", "gaussian", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["evaluations"][0]["excluded"][0]["image"] == "bench/img02"
    assert data["table3"][0]["Dataset_ID"] == "bench"
    for argv, message in [
        (["eval", trained, "--sigma", "abc"], "expects numbers"),
        (["eval", trained, "--sigma", "300"], "sigmas"),
        (["eval", trained, "--baselines", "magic"], "not allowed"),
        (["eval", trained, "--dataset", "nope"], "no dataset named 'nope'"),
        (["eval", "no-such-run"], "no run"),
    ]:
        code = cli_run(argv)
        _, err = capsys.readouterr()
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)


def test_ablation_components_follow_the_config(workspace, trained):
    config = show_run(workspace, trained).config
    assert ablation_components(config) == {"Noise_Modeling": "Yes", "Priors": "Yes", "Training_Schedule": "Standard"}
    stripped = config | {
        "model": config["model"] | {"noise_map": False, "target": "clean"},
        "optim": config["optim"] | {"schedule": "constant", "warmup_steps": 0},
    }
    assert ablation_components(stripped) == {"Noise_Modeling": "No", "Priors": "No", "Training_Schedule": "Altered"}


def test_evaluating_on_pictures_the_run_trained_on_warns_and_marks_them(workspace, trained, tmp_path, capsys):
    # write_dataset draws the same pictures for every dataset: bench/imgNN is tiny/imgNN, which the run split.
    roles = {m.image_key.split("/")[1]: m.role for m in show_run(workspace, trained).splits}
    evaluated = ("img00", "img01", "img03")  # bench's four less the withdrawn img02
    seen = {f"bench/{name}": role for name, role in roles.items() if role in ("train", "val") and name in evaluated}
    assert seen  # the tiny split trains on most of its six pictures
    code = cli_run(["eval", trained, "--dataset", "bench", "--baselines", "gaussian", "--out", str(tmp_path / "t")])
    out, err = capsys.readouterr()
    assert code == 0, err
    err = " ".join(err.split())
    assert f"images are pictures run {trained} trained or validated on" in err
    assert all(key in err for key in seen), (seen, err)
    assert f"tables written to {tmp_path / 't'}" in " ".join(out.split()) + err
    with open(tmp_path / "t" / "per_image.csv", newline="") as handle:
        marked = {row["image"]: row["seen_in_training"] for row in csv.DictReader(handle)}
    assert {image: role for image, role in marked.items() if role} == seen


def test_include_withdrawn_through_the_cli(workspace, trained, capsys):
    code = cli_run(["eval", trained, "--dataset", "bench", "--baselines", "gaussian", "--include-withdrawn"])
    _, err = capsys.readouterr()
    assert code == 2 and "needs --reason" in err
    argv = ["eval", trained, "--dataset", "bench", "--baselines", "gaussian", "--include-withdrawn"]
    code = cli_run([*argv, "--reason", "compare with published", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    (evaluation,) = json.loads(out)["evaluations"]
    assert evaluation["excluded"] == [] and "bench/img02" in json.dumps(evaluation)
