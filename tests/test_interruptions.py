"""A failure mid-run leaves a failed run with no metrics; resuming it gives the same bytes."""

import pytest
from sqlalchemy import func, select

from denoiser.training import TrainingHooks
from registry.errors import RegistryError
from registry.models import Metric, Run, RunMetric
from registry.runs import show_run
from registry.tracking import resume_run, train_run


class FailAt(TrainingHooks):
    def __init__(self, step: int, error: type[BaseException] = RuntimeError):
        self.step, self.error = step, error

    def on_step(self, step, total, loss):
        if step == self.step:
            raise self.error("injected failure")


def latest_run_id(workspace) -> str:
    with workspace.store().reader() as session:
        return session.scalar(select(Run.id).order_by(Run.created_at.desc()).limit(1))


def metric_rows(workspace, run_id) -> int:
    with workspace.store().reader() as session:
        return session.scalar(select(func.count()).select_from(Metric).where(Metric.run_id == run_id)) + session.scalar(
            select(func.count()).select_from(RunMetric).where(RunMetric.run_id == run_id)
        )


def test_injected_failure_marks_the_run_failed_and_writes_no_metrics(workspace, tiny_config):
    with pytest.raises(RuntimeError, match="injected failure"):
        train_run(workspace, tiny_config, hooks=FailAt(6))
    run = show_run(workspace, latest_run_id(workspace))
    assert run.status == "failed"
    assert "injected failure" in run.error
    assert [c.step for c in run.checkpoints] == [4]
    assert metric_rows(workspace, run.id) == 0


def test_resume_gives_the_same_final_checkpoint_as_an_uninterrupted_run(workspace, tiny_config):
    reference = show_run(workspace, train_run(workspace, tiny_config))
    with pytest.raises(KeyboardInterrupt):
        train_run(workspace, tiny_config, hooks=FailAt(6, KeyboardInterrupt))
    interrupted = latest_run_id(workspace)
    assert show_run(workspace, interrupted).status == "interrupted"

    assert resume_run(workspace, interrupted) == interrupted
    resumed = show_run(workspace, interrupted)
    assert resumed.status == "finished" and resumed.resumed == 1
    assert [c.sha256 for c in resumed.checkpoints] == [c.sha256 for c in reference.checkpoints]
    assert [
        (m.image_key, m.metric, m.value)
        for m in sorted(resumed.metrics, key=lambda m: (m.image_key, m.method, m.metric))
    ] == [
        (m.image_key, m.metric, m.value)
        for m in sorted(reference.metrics, key=lambda m: (m.image_key, m.method, m.metric))
    ]
    assert [(p.step, p.split, p.value) for p in resumed.losses] == [
        (p.step, p.split, p.value) for p in reference.losses
    ]


def test_finished_runs_cannot_be_resumed(workspace, tiny_config):
    run_id = train_run(workspace, tiny_config)
    with pytest.raises(RegistryError, match="already finished"):
        resume_run(workspace, run_id)


def test_a_run_cannot_resume_on_a_picture_withdrawn_since_it_began(workspace, tiny_config):
    from registry.datasets import set_consent

    with pytest.raises(RuntimeError):
        train_run(workspace, tiny_config, hooks=FailAt(6))
    run = show_run(workspace, latest_run_id(workspace))
    trained_on = next(m.image_key for m in run.splits if m.role == "train")
    set_consent(workspace, trained_on, "withdrawn", "asked")
    with pytest.raises(RegistryError, match=f"consent was withdrawn for {trained_on}"):
        resume_run(workspace, run.id)
    assert show_run(workspace, run.id).status == "failed"
