"""What a withdrawal reaches (issue 10, capability 2): `registry consent set X --status withdrawn`
lists the runs whose weights depend on the picture (any copy), their exported models and
outputs, and apart from them the runs that only tested on it and the evaluations that scored
it; affected runs are flagged by `runs list`, `runs show` and reports."""

import json
import shutil

import pytest
from PIL import Image

from registry.datasets import add_dataset
from tests.conftest import cli, synthetic_image

pytest_plugins = ["tests.withdrawal_fixtures"]  # the `three_runs` fixture
IMAGE = "tiny/img01"  # two of `three_runs`' runs trained on it, the third only tested on it


@pytest.fixture
def used(three_runs, tmp_path, capsys):
    """Each of the three runs exported and used once; the tested-only run evaluated on `tiny`."""
    noisy = tmp_path / "noisy.png"
    Image.fromarray(synthetic_image(9)).save(noisy)
    runs = [*three_runs.trained, three_runs.other]
    for index, run in enumerate(runs):
        assert cli(capsys, "export", run, "--out", tmp_path / f"model{index}")[0] == 0
    # One output made from a run id, one from an exported folder, one by the third run.
    for model, out in [(runs[0], "out0"), (tmp_path / "model1", "out1"), (runs[2], "out2")]:
        code, _, err = cli(capsys, "denoise", model, noisy, "--out", out, "--sigma", 25)
        assert code == 0, err
    code, _, err = cli(capsys, "eval", three_runs.other, "--dataset", "tiny", "--sigma", "25")
    assert code == 0, err
    return three_runs


def test_withdrawing_lists_the_two_runs_that_trained_on_it_and_the_third_apart(used, capsys):
    first, second = used.trained
    code, out, err = cli(capsys, "consent", "set", IMAGE, "--status", "withdrawn", "--json")
    assert code == 0, err
    impact = json.loads(out)["impact"]
    assert [r["run"] for r in impact["affected_runs"]] == sorted(used.trained)
    assert all(r["images"] == [IMAGE] and r["roles"] == ["train"] for r in impact["affected_runs"])
    assert sorted(e["run"] for e in impact["exported_models"]) == sorted(used.trained)
    assert sorted(o["run"] for o in impact["outputs"]) == sorted(used.trained)
    assert {o["path"] for o in impact["outputs"]} == {"out0/noisy.png", "out1/noisy.png"}
    assert [r["run"] for r in impact["tested_runs"]] == [used.other]
    (evaluation,) = impact["evaluations"]
    assert evaluation["run"] == used.other and evaluation["images"] == [IMAGE] and evaluation["dataset"] == "tiny"

    # The same as tables: the third run is in the tables kept apart, never among the affected.
    code, out, err = cli(capsys, "consent", "set", IMAGE, "--status", "withdrawn")
    assert code == 0, err
    affected, apart = out.split("runs that only tested on it")
    assert first in affected and second in affected and used.other not in affected.split("outputs of")[0]
    assert "exported models of affected runs" in affected and "out0/noisy.png" in affected
    assert used.other in apart and "evaluations that scored it" in apart

    # Another status is no withdrawal: nothing to list.
    code, out, err = cli(capsys, "consent", "set", IMAGE, "--status", "granted", "--json")
    assert code == 0 and json.loads(out)["impact"] is None


def test_a_copy_in_another_dataset_reaches_the_same_runs_and_they_are_flagged(used, tmp_path, capsys):
    folder = tmp_path / "copies"
    folder.mkdir()
    shutil.copyfile(used.workspace.root / "data" / "tiny" / "img01.png", folder / "dup01.png")
    (folder / "MANIFEST.csv").write_text("image_id,file,license\ndup01,dup01.png,CC0-1.0\n")
    add_dataset(used.workspace, folder, "copies")
    code, out, err = cli(capsys, "consent", "set", "copies/dup01", "--status", "withdrawn", "--json")
    assert code == 0, err
    impact = json.loads(out)["impact"]
    assert impact["copies"] == [IMAGE]
    assert [r["run"] for r in impact["affected_runs"]] == sorted(used.trained)
    assert [r["run"] for r in impact["tested_runs"]] == [used.other]

    code, out, err = cli(capsys, "runs", "list", "--json")
    flags = {row["id"]: row["withdrawn_training_images"] for row in json.loads(out)}
    assert flags == {used.trained[0]: [IMAGE], used.trained[1]: [IMAGE], used.other: []}
    code, out, err = cli(capsys, "runs", "list")
    lines = {line.split()[1]: line for line in out.splitlines() if any(r in line for r in flags)}
    assert all(f"AFFECTED: {IMAGE}" in lines[run] for run in used.trained)
    assert "AFFECTED" not in lines[used.other]

    code, out, err = cli(capsys, "runs", "show", used.trained[0], "--json")
    assert json.loads(out)["withdrawn_training_images"] == [IMAGE] and "is affected" in err
    code, out, err = cli(capsys, "runs", "show", used.other, "--json")
    assert json.loads(out)["withdrawn_training_images"] == [] and "affected" not in err

    facts = report(capsys, tmp_path, used.trained[0])
    assert facts["summary"]["withdrawn_training_images"] == [IMAGE]
    assert any("affected by a withdrawal" in note and IMAGE in note for note in facts["limitations"])
    facts = report(capsys, tmp_path, used.other)
    assert facts["summary"]["withdrawn_training_images"] == []
    assert not any("affected by a withdrawal" in note for note in facts["limitations"])
    assert any("test metrics include" in note and IMAGE in note for note in facts["limitations"])


def report(capsys, tmp_path, run: str) -> dict:
    path = tmp_path / f"{run}.json"
    code, _, err = cli(capsys, "report", run, "--format", "json", "--out", path)
    assert code == 0, err
    return json.loads(path.read_text())["runs"][0]


def test_an_unknown_image_gets_one_line_and_exit_2(three_runs, capsys):
    code, out, err = cli(capsys, "consent", "set", "tiny/img99", "--status", "withdrawn")
    assert code == 2 and not out and len(err.strip().splitlines()) == 1 and "no image" in err
