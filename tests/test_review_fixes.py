"""Edge cases: unsafe export targets, outputs over inputs, one-sided baselines, late consent
withdrawal, strict config types, resuming elsewhere, --debug placement, bad ablation variants."""

from types import SimpleNamespace

import pytest
from PIL import Image

from audits.compare import compare_metrics
from denoiser.config import ConfigError, config_from_dict
from registry.cli import run as cli_run
from registry.datasets import set_consent
from registry.errors import RegistryError
from registry.evaluations import EvalRequest, evaluate_run, show_evaluations
from registry.exporting import export_run
from registry.models import Run
from registry.runs import show_run
from registry.tracking import resume_run, train_run
from tests.conftest import TINY_CONFIG, synthetic_image
from tests.test_interruptions import FailAt, latest_run_id


def test_export_only_replaces_an_earlier_export(workspace, tiny_config, tmp_path):
    run_id = train_run(workspace, tiny_config)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(RegistryError, match="not an exported model"):
        export_run(workspace, run_id, precious, force=True)
    with pytest.raises(RegistryError, match="holds the workspace"):
        export_run(workspace, run_id, workspace.root, force=True)
    model = export_run(workspace, run_id, tmp_path / "model")
    with pytest.raises(RegistryError, match="pass --force"):
        export_run(workspace, run_id, model)
    assert export_run(workspace, run_id, model, force=True) == model.resolve()
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_denoise_never_overwrites_its_input(workspace, tiny_config, tmp_path, capsys):
    run_id = train_run(workspace, tiny_config)
    image = tmp_path / "photo.png"
    Image.fromarray(synthetic_image(1)).save(image)
    before = image.read_bytes()
    assert cli_run(["denoise", run_id, str(image), "--out", str(tmp_path), "--sigma", "25"]) == 2
    assert "would overwrite an input" in capsys.readouterr().err
    assert image.read_bytes() == before


def test_a_baseline_missing_on_one_side_is_not_compared():
    metric = SimpleNamespace(image_key="a/1", sigma=25.0, method="bm3d", metric="psnr", value=30.0)
    run = SimpleNamespace(metrics=[metric], config={"audit": {"psnr_atol": 0.05}})
    assert compare_metrics(run, {"metrics": []}, skip={"bm3d"}) == []
    assert compare_metrics(run, {"metrics": []})[0].actual == "absent"


def test_test_split_evaluation_respects_consent_withdrawn_after_training(workspace, tiny_config):
    run_id = train_run(workspace, tiny_config)
    (member,) = [m for m in show_run(workspace, run_id).splits if m.role == "test"]
    dataset, image_id = member.image_key.split("/")
    set_consent(workspace, member.image_key, "withdrawn", "asked after training")
    with pytest.raises(RegistryError, match="no images left"):
        evaluate_run(workspace, run_id, EvalRequest([], {"sigmas": [25.0]}))
    ids = evaluate_run(
        workspace, run_id, EvalRequest([], {"sigmas": [25.0]}, include_withdrawn=True, reason="audit trail")
    )
    assert show_evaluations(workspace, ids)[0].reason == "audit trail"


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"model": {"depth": 3.0}}, "3.0 is not allowed"),
        ({"train": {"seed": 3_000_000_000}}, "train.seed: must be in"),
        ({"data": {"split_seed": -1}}, "data.split_seed: must be in"),
        ({"model": {"base_channels": 12, "attention_levels": 1, "attention_heads": 5}}, "heads do not divide"),
    ],
)
def test_config_rejects_values_that_would_fail_later(raw, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw)


def test_resume_refuses_another_environment(workspace, tiny_config):
    with pytest.raises(KeyboardInterrupt):
        train_run(workspace, tiny_config, hooks=FailAt(6, KeyboardInterrupt))
    run_id = latest_run_id(workspace)
    with workspace.store().transaction() as session:
        run = session.get(Run, run_id)
        run.environment = run.environment | {"torch": "0.0-elsewhere"}
    with pytest.raises(RegistryError, match="another environment"):
        resume_run(workspace, run_id)


def test_debug_flag_anywhere(workspace, capsys):
    assert cli_run(["runs", "show", "nope", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "no run 'nope'" in err and "Traceback" in err


def test_ablate_checks_every_variant_before_training(workspace, tmp_path, capsys):
    family = tmp_path / "family"
    family.mkdir()
    (family / "base.yaml").write_text(TINY_CONFIG)
    (family / "1_good.yaml").write_text("base: base.yaml\nname: good\n")
    (family / "2_bad.yaml").write_text("base: base.yaml\nmodel: {depth: 4}\n")
    assert cli_run(["ablate", str(family)]) == 2
    assert "2_bad.yaml" in capsys.readouterr().err
    with workspace.store().reader() as session:
        assert session.query(Run).count() == 0
