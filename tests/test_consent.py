"""Withdrawn consent keeps an image out of every split; --strict refuses to train."""

import pytest
from sqlalchemy import select

from registry.datasets import set_consent
from registry.errors import NotFoundError, RegistryError
from registry.models import ConsentEvent, Run, SplitImage
from registry.runs import show_run
from registry.tracking import train_run


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_withdrawn_image_is_never_in_a_split(workspace, tiny_config, seed):
    set_consent(workspace, "tiny/img03", "withdrawn", "subject asked")
    set_consent(workspace, "tiny/img05", "withdrawn")
    run = show_run(
        workspace,
        train_run(workspace, tiny_config, [f"data.split_seed={seed}", "train.steps=1", "train.checkpoint_every=1"]),
    )
    used = {member.image_key for member in run.splits}
    assert used == {"tiny/img00", "tiny/img01", "tiny/img02", "tiny/img04"}
    assert [e["image"] for e in run.excluded] == ["tiny/img03", "tiny/img05"]
    assert "subject asked" in run.excluded[0]["reason"]


def test_strict_refuses_and_records_nothing(workspace, tiny_config):
    set_consent(workspace, "tiny/img01", "withdrawn")
    with pytest.raises(RegistryError, match="consent is withdrawn for tiny/img01"):
        train_run(workspace, tiny_config, strict=True)
    with workspace.store().reader() as session:
        assert session.scalars(select(Run)).all() == []
        assert session.scalars(select(SplitImage)).all() == []


def test_consent_changes_are_kept_as_history(workspace):
    set_consent(workspace, "tiny/img02", "withdrawn", "first")
    set_consent(workspace, "tiny/img02", "granted", "signed release")
    with workspace.store().reader() as session:
        events = session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
    assert [(e.previous, e.status, e.note) for e in events] == [
        ("unknown", "withdrawn", "first"),
        ("withdrawn", "granted", "signed release"),
    ]


def test_consent_errors(workspace):
    with pytest.raises(RegistryError, match="not one of"):
        set_consent(workspace, "tiny/img02", "maybe")
    with pytest.raises(NotFoundError, match="no image 'nope'"):
        set_consent(workspace, "tiny/nope", "granted")
    with pytest.raises(NotFoundError, match="no dataset named 'other'"):
        set_consent(workspace, "other/img00", "granted")
