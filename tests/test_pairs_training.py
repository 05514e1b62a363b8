"""Training on real noisy/clean pairs (issue 11, capability 4, `noise.kind: pairs`): crops
cut alike from both files, the network told each crop's measured noise, the run scored on
its test images' real noisy files, and audited like any run (noisy files' hashes too)."""

import json

import numpy as np
import pytest

from audits.audit import audit_run
from denoiser.config import ConfigError, config_from_dict
from denoiser.patches import measured_sigma, sample_batch, validation_batch
from registry.datasets import add_dataset, set_consent
from registry.exporting import export_run
from registry.models import Run
from registry.runs import get_run, show_run
from registry.tables import EvalView, table1
from registry.tracking import resume_run, train_run, train_successor
from tests.conftest import TINY_CONFIG, cli
from tests.test_consent_by_content import error_line
from tests.test_interruptions import FailAt, latest_run_id
from tests.test_real_noise import write_pairs

PAIRS_CONFIG = TINY_CONFIG.replace("datasets: [tiny]", "datasets: [pairs]") + "noise: {kind: pairs}\n"


@pytest.fixture
def pairs_workspace(workspace, tmp_path):
    """The `workspace` fixture plus `pairs`: 6 gray 32x32 clean/noisy pairs (noise sigma 20)."""
    add_dataset(workspace, write_pairs(tmp_path / "pairs-source", count=6), "pairs")
    (tmp_path / "pairs.yaml").write_text(PAIRS_CONFIG)
    return workspace, tmp_path / "pairs.yaml"


def _pair(seed: int, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    clean = rng.uniform(0.2, 0.8, shape).astype(np.float32)
    return clean, (clean + rng.normal(0, 10 / 255, shape)).astype(np.float32)


@pytest.mark.parametrize("shape", [(24, 20), (24, 20, 3)])
def test_pair_crops_match_and_carry_their_measured_sigma(shape):
    config = config_from_dict({"noise": {"kind": "pairs"}, "data": {"patch_size": 16, "val_crops": 2}})
    pairs = [_pair(seed, shape) for seed in range(3)]
    clean, noisy = [c for c, _ in pairs], [n for _, n in pairs]
    noise = {id(c): n - c for c, n in pairs}  # each pair's true noise, to find crops back
    for batch in (
        sample_batch(clean, config.data, config.noise, 6, seed=0, step=3, noisy_images=noisy),
        validation_batch(clean, config.data, config.noise, seed=0, noisy_images=noisy),
    ):
        for c, n, sigma in zip(batch.clean, batch.noisy, batch.sigma, strict=True):
            # the noisy crop is the clean crop plus the real noise at the very same pixels
            assert sigma.item() == pytest.approx(measured_sigma(c.numpy(), n.numpy()), rel=1e-5)
            assert 5 < sigma.item() < 15
            residual = (n - c).numpy()
            assert any(_holds(residual, d) for d in noise.values())


def _holds(residual: np.ndarray, noise: np.ndarray) -> bool:
    """Whether the (C, P, P) residual is a crop of `noise` under one of the 8 symmetries."""
    patch = np.moveaxis(residual, 0, -1)
    patch = patch[..., 0] if noise.ndim == 2 else patch
    size = patch.shape[0]
    for turn in range(8):
        candidate = np.rot90(patch, -(turn % 4)) if turn < 4 else np.rot90(np.flipud(patch), -(turn % 4))
        for top in range(noise.shape[0] - size + 1):
            for left in range(noise.shape[1] - size + 1):
                if np.allclose(noise[top : top + size, left : left + size], candidate, atol=1e-6):
                    return True
    return False


def test_colour_jitter_is_refused_with_pairs():
    with pytest.raises(ConfigError, match="pairs"):
        config_from_dict({"noise": {"kind": "pairs"}, "data": {"color_jitter": 0.05}, "model": {"channels": 3}})


def test_a_pairs_run_trains_scores_real_noise_and_audits_identical(pairs_workspace, tmp_path, capsys):
    workspace, config = pairs_workspace
    code, out, err = cli(capsys, "train", config)
    assert code == 0, err
    run_id = out.strip().splitlines()[-1]
    with workspace.store().reader() as session:
        run = get_run(session, run_id)
        assert run.status == "finished" and run.config["noise"]["kind"] == "pairs"
        assert run.evaluation["noise"] == "real"
        # scored on the test images' real noisy files, blind: no synthetic sigma row
        assert {m.sigma for m in run.metrics} == {0.0}
        assert set(run.evaluation["sigma_used"]) == {m.image_key for m in run.splits if m.role == "test"}
        # the run's tables (reports, model cards) say so
        rows = table1(EvalView.of_run(run), 0.0)
        assert rows and {row["Sigma"] for row in rows} == {"real noise (blind)"}

    # `registry eval RUN` on its own test split scores the same real noisy files
    code, out, err = cli(capsys, "eval", run_id, "--json")
    assert code == 0, err
    tables = json.loads(out)["evaluations"][0]
    assert tables["noise"] == "real" and {row["Sigma"] for row in tables["table1"]} == {"real noise (blind)"}

    # its model card says what it learnt from
    card = (export_run(workspace, run_id, tmp_path / "model") / "MODEL_CARD.md").read_text()
    assert "real (paired) noise" in card and "Trained on the real noise of its paired training images" in card

    result = audit_run(workspace, run_id)
    assert result.verdict == "IDENTICAL", result.reason

    # a training image's noisy file altered: the audit names it
    with workspace.store().reader() as session:
        run = get_run(session, run_id)
        trained_on = next(m.image_key for m in run.splits if m.role == "train").split("/")[1]
    tampered = workspace.data_dir / "pairs" / "noisy" / f"{trained_on}.png"
    tampered.write_bytes(tampered.read_bytes() + b"\0")
    result = audit_run(workspace, run_id)
    assert result.verdict == "INTEGRITY_FAILED"
    assert any(f.get("file") == f"data/pairs/noisy/{trained_on}.png" for f in result.differences), result.differences


def test_pairs_on_an_unpaired_dataset_is_refused_before_anything_is_recorded(workspace, tmp_path, capsys):
    config = tmp_path / "unpaired.yaml"
    config.write_text(TINY_CONFIG + "noise: {kind: pairs}\n")
    code, out, err = cli(capsys, "train", config)
    line = error_line(err)
    assert code == 2 and out == "" and "noise.kind pairs" in line and "tiny/img" in line
    with workspace.store().reader() as session:
        assert session.query(Run).count() == 0


def test_an_interrupted_pairs_run_resumes_to_the_same_final_checkpoint(pairs_workspace):
    workspace, config = pairs_workspace
    reference = show_run(workspace, train_run(workspace, config))
    with pytest.raises(KeyboardInterrupt):
        train_run(workspace, config, hooks=FailAt(6, KeyboardInterrupt))
    interrupted = latest_run_id(workspace)
    assert resume_run(workspace, interrupted) == interrupted
    resumed = show_run(workspace, interrupted)
    assert resumed.status == "finished" and resumed.resumed == 1
    assert [c.sha256 for c in resumed.checkpoints] == [c.sha256 for c in reference.checkpoints]
    assert sorted((m.image_key, m.method, m.metric, m.value) for m in resumed.metrics) == sorted(
        (m.image_key, m.method, m.metric, m.value) for m in reference.metrics
    )


def test_a_successor_of_a_pairs_run_trains_on_the_remaining_pairs(pairs_workspace):
    workspace, config = pairs_workspace
    old = show_run(workspace, train_run(workspace, config))
    withdrawn = next(m.image_key for m in old.splits if m.role == "train")
    set_consent(workspace, withdrawn, "withdrawn")
    new = show_run(workspace, train_successor(workspace, old.id))
    assert new.status == "finished" and new.evaluation["noise"] == "real"
    assert withdrawn not in {m.image_key for m in new.splits}
