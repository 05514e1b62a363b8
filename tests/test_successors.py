"""Successors (issue 10, capability 3): `registry train --successor RUN` re-trains RUN's recorded
config and seeds on its split less the images withdrawn since, and the two runs name each other."""

import json

from registry.datasets import set_consent
from registry.models import Run
from registry.runs import show_run, successor_ids
from registry.tracking import train_run
from tests.conftest import cli
from tests.withdrawal_fixtures import IMAGE, error_line

pytest_plugins = ["tests.withdrawal_fixtures"]  # the `three_runs` and `noisy` fixtures


def keys(run: Run) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for member in sorted(run.splits, key=lambda m: (m.role, m.position)):
        found.setdefault(member.role, []).append(member.image_key)
    return found


def test_the_successor_leaves_the_image_out_and_links_back(three_runs, noisy, tmp_path, capsys):
    workspace, old_id = three_runs.workspace, three_runs.trained[0]
    set_consent(workspace, IMAGE, "withdrawn", "asked after training")

    code, out, err = cli(capsys, "train", "--successor", old_id[:17], "--json")
    assert code == 0, err
    new_id = json.loads(out)["run"]
    old, new = show_run(workspace, old_id), show_run(workspace, new_id)

    assert new.status == "finished" and new.successor_of == old.id
    assert (new.config, new.config_hash, new.seed, new.split_seed) == (
        old.config,
        old.config_hash,
        old.seed,
        old.split_seed,
    )
    # The same split, role by role and in order, less the withdrawn image only.
    assert IMAGE in keys(old)["train"]
    assert keys(new) == {role: [k for k in members if k != IMAGE] for role, members in keys(old).items()}
    assert [e["image"] for e in new.excluded] == [IMAGE]
    assert new.checkpoints[-1].sha256 != old.checkpoints[-1].sha256

    # Linked both ways.
    code, out, err = cli(capsys, "runs", "show", new_id, "--json")
    assert code == 0 and json.loads(out)["successor_of"] == old_id
    code, out, err = cli(capsys, "runs", "show", old_id, "--json")
    assert code == 0 and json.loads(out)["successors"] == [new_id]
    code, out, err = cli(capsys, "runs", "show", old_id)
    assert code == 0 and new_id in out
    assert successor_ids(workspace, new_id) == []

    # The successor is what a refusing workspace still uses; asking again is refused.
    assert cli(capsys, "config", "set", "withdrawn-models", "refuse")[0] == 0
    code, _, err = cli(capsys, "denoise", new_id, noisy, "--out", tmp_path / "out", "--sigma", 25, "--no-sign")
    assert code == 0, err
    code, _, err = cli(capsys, "train", "--successor", old_id)
    assert code == 2 and f"already has successor {new_id}" in error_line(err)


def test_what_has_nothing_to_leave_out_or_no_model_is_refused(three_runs, capsys):
    workspace = three_runs.workspace
    code, _, err = cli(capsys, "train", "--successor", "no-such-run")
    assert code == 2 and "no run 'no-such-run'" in error_line(err)

    code, _, err = cli(capsys, "train", "--successor", three_runs.trained[0])
    assert code == 2 and "nothing to leave out" in error_line(err) and "--force" in err

    set_consent(workspace, IMAGE, "withdrawn")
    code, _, err = cli(capsys, "train", "--successor", three_runs.other)
    line = error_line(err)
    assert code == 2 and f"({IMAGE}) are only in its test split" in line

    with workspace.store().transaction() as session:
        session.get(Run, three_runs.trained[1]).status = "interrupted"
    code, _, err = cli(capsys, "train", "--successor", three_runs.trained[1])
    assert code == 2 and f"resume it: registry train --resume {three_runs.trained[1]}" in error_line(err)

    for argv in (
        ("--force",),
        ("--successor", three_runs.trained[0], "--resume", three_runs.trained[0]),
        ("--successor", three_runs.trained[0], str(three_runs.config)),
    ):
        code, _, err = cli(capsys, "train", *argv)
        assert code == 2 and error_line(err)
    with workspace.store().reader() as session:
        assert session.query(Run).count() == 3  # nothing was recorded


def test_a_role_left_empty_is_drawn_afresh_from_the_split_seed(three_runs, capsys):
    # Under split seed 4 the image is the only validation image: leaving it out empties that role.
    workspace = three_runs.workspace
    old_id = train_run(workspace, three_runs.config, ["data.split_seed=4"])
    assert keys(show_run(workspace, old_id))["val"] == [IMAGE]
    set_consent(workspace, IMAGE, "withdrawn")

    code, out, err = cli(capsys, "train", "--successor", old_id, "--json")
    assert code == 0, err
    assert "empties the val split" in " ".join(err.split())
    new = show_run(workspace, json.loads(out)["run"])
    assert new.successor_of == old_id and new.split_seed == 4
    assert all(keys(new)[role] for role in ("train", "val", "test"))
    assert IMAGE not in sum(keys(new).values(), [])


def test_force_re_trains_a_run_with_nothing_to_leave_out(three_runs, capsys):
    old_id = three_runs.other
    code, out, err = cli(capsys, "train", "--successor", old_id, "--force", "--json")
    assert code == 0, err
    old, new = show_run(three_runs.workspace, old_id), show_run(three_runs.workspace, json.loads(out)["run"])
    # Same config, seeds and split: the same weights, byte for byte.
    assert new.successor_of == old_id and keys(new) == keys(old)
    assert new.checkpoints[-1].sha256 == old.checkpoints[-1].sha256
