"""`registry report OLD NEW` for a successor (issue 10, capability 3): the comparison says NEW
succeeds OLD, gives the quality change at each sigma (with a caveat when the test sets differ)
and the images removed; lineage shows the successor link."""

import json
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from registry.datasets import set_consent
from registry.models import Metric, Run, RunMetric
from registry.reports.facts import successions
from registry.runs import show_run
from registry.tracking import train_run
from tests.conftest import cli

pytest_plugins = ["tests.withdrawal_fixtures"]  # the `three_runs` fixture
IMAGE = "tiny/img01"  # `three_runs`' first run trained on it


@pytest.fixture
def succession(three_runs):
    """OLD trained on IMAGE; after its withdrawal NEW re-trains OLD's config without it."""
    old = three_runs.trained[0]
    set_consent(three_runs.workspace, IMAGE, "withdrawn", "asked after training")
    new = train_run(three_runs.workspace, three_runs.config, ["data.split_seed=0"])
    # `registry train --successor` sets this link; here it is set directly.
    with three_runs.workspace.store().transaction() as session:
        session.get(Run, new).successor_of = old
    return three_runs.workspace, old, new


def roles(workspace, run_id: str, wanted: tuple[str, ...]) -> set[str]:
    return {m.image_key for m in show_run(workspace, run_id).splits if m.role in wanted}


def model_means(workspace, run_id: str) -> dict[tuple[float, str], float]:
    with workspace.store().reader() as session:
        rows = session.scalars(
            select(RunMetric).where(
                RunMetric.run_id == run_id, RunMetric.evaluation_id.is_(None), RunMetric.method == "model"
            )
        )
        return {(row.sigma, row.metric): row.mean for row in rows}


def common_mean(workspace, run_id: str, images: set[str], sigma: float, metric: str) -> float:
    with workspace.store().reader() as session:
        values = session.scalars(
            select(Metric.value).where(
                Metric.run_id == run_id,
                Metric.evaluation_id.is_(None),
                Metric.method == "model",
                Metric.metric == metric,
                Metric.sigma == sigma,
                Metric.image_key.in_(images),
            )
        ).all()
    return sum(values) / len(values)


def test_the_comparison_names_the_successor_the_removed_images_and_the_quality_change(succession, tmp_path, capsys):
    workspace, old, new = succession
    removed = roles(workspace, old, ("train", "val")) - roles(workspace, new, ("train", "val"))
    assert IMAGE in removed and IMAGE not in roles(workspace, new, ("train", "val", "test"))
    old_test, new_test = roles(workspace, old, ("test",)), roles(workspace, new, ("test",))

    code, _, err = cli(capsys, "report", old, new, "--format", "json", "--out", tmp_path / "r.json")
    assert code == 0, err
    facts = json.loads((tmp_path / "r.json").read_text())
    (found,) = facts["successions"]
    assert (found["old"], found["new"]) == (old, new)
    assert [r["image"] for r in found["removed_images"]] == sorted(removed)
    reason = next(r["reason"] for r in found["removed_images"] if r["image"] == IMAGE)
    assert "consent withdrawn" in reason
    assert found["same_test_set"] == (old_test == new_test)
    assert (found["caveat"] is not None) == (old_test != new_test)
    before, after = model_means(workspace, old), model_means(workspace, new)
    assert [row["sigma"] for row in found["quality"]] == [25.0]
    for row in found["quality"]:
        for metric in ("psnr", "ssim"):
            key = (row["sigma"], metric)
            assert row[f"{metric}_old"] == before[key] and row[f"{metric}_new"] == after[key]
            assert row[f"{metric}_delta"] == pytest.approx(after[key] - before[key])
            common = old_test & new_test
            if old_test != new_test and common:
                expected = common_mean(workspace, new, common, row["sigma"], metric) - common_mean(
                    workspace, old, common, row["sigma"], metric
                )
                assert row[f"{metric}_delta_common"] == pytest.approx(expected)
    assert facts["runs"][1]["summary"]["successor_of"] == old

    # Given in either order, the HTML comparison says it.
    code, _, err = cli(capsys, "report", new, old, "--out", tmp_path / "r.html")
    assert code == 0, err
    html = (tmp_path / "r.html").read_text()
    assert f"Run <code>{new}</code> succeeds run <code>{old}</code>" in html
    assert f"<strong>{IMAGE}</strong>" in html and "Δ PSNR (dB)" in html
    assert ("Caveat:" in html) == (old_test != new_test)
    code, _, err = cli(capsys, "report", old, new, "--format", "md", "--out", tmp_path / "r.md")
    assert code == 0, err
    card = (tmp_path / "r.md").read_text()
    assert f"## Run `{new}` succeeds run `{old}`" in card and IMAGE in card.split("## Run")[1]


def test_lineage_links_the_successor_and_other_runs_get_no_succession(succession, three_runs, tmp_path, capsys):
    workspace, old, new = succession
    code, _, err = cli(capsys, "report", three_runs.other, new, "--format", "json", "--out", tmp_path / "r.json")
    assert code == 0, err
    assert json.loads((tmp_path / "r.json").read_text())["successions"] == []

    code, out, err = cli(capsys, "lineage", old, "--json")
    assert code == 0, err
    graph = json.loads(out)
    nodes = {node["id"]: node for node in graph["nodes"]}
    assert {"from": f"run:{old}", "to": f"run:{new}", "relation": "successor"} in graph["edges"]
    assert nodes[f"run:{old}"]["withdrawn_training_images"] == [IMAGE]
    assert nodes[f"run:{new}"]["withdrawn_training_images"] == [] and nodes[f"run:{new}"]["successor_of"] == old
    # The withdrawn image is shown one by one, with the role it had.
    assert {"from": f"image:{IMAGE}", "to": f"run:{old}", "relation": "train"} in graph["edges"]
    assert nodes[f"image:{IMAGE}"]["effective_consent"] == "withdrawn"

    # From the image: the runs that trained on it, and the successor that left it out.
    code, out, err = cli(capsys, "lineage", IMAGE, "--json")
    edges = json.loads(out)["edges"]
    assert {"from": f"image:{IMAGE}", "to": f"run:{old}", "relation": "train"} in edges
    assert {"from": f"image:{IMAGE}", "to": f"run:{new}", "relation": "left out"} in edges


def fake_run(run_id, successor_of, splits, values, excluded=()):
    """A run as `successions` reads it: splits {role: [image]}, per-image model PSNR at sigma 25."""
    members = [SimpleNamespace(image_key=key, role=role) for role, keys in splits.items() for key in keys]
    metrics = [
        SimpleNamespace(image_key=k, method="model", metric="psnr", sigma=25.0, value=v) for k, v in values.items()
    ]
    mean = sum(v for k, v in values.items() if k in splits["test"]) / len(splits["test"])
    aggregates = [SimpleNamespace(sigma=25.0, metric="psnr", method="model", mean=mean)]
    return SimpleNamespace(
        id=run_id, successor_of=successor_of, splits=members, metrics=metrics, aggregates=aggregates, excluded=excluded
    )


def test_the_deltas_on_common_test_images_compare_the_models_alone():
    old = fake_run("old", None, {"train": ["d/a", "d/b"], "test": ["d/c", "d/e"]}, {"d/c": 20.0, "d/e": 30.0})
    withdrawn = [{"image": "d/a", "reason": "consent withdrawn"}]
    new = fake_run("new", "old", {"train": ["d/c"], "test": ["d/e", "d/b"]}, {"d/e": 31.0, "d/b": 10.0}, withdrawn)
    (found,) = successions([new, old])
    assert found["removed_images"] == [
        {"image": "d/a", "reason": "consent withdrawn"},
        {"image": "d/b", "reason": "moved to the test split"},
    ]
    assert found["added_images"] == ["d/c"] and found["test_images"] == {"old": 2, "new": 2, "common": 1}
    (row,) = found["quality"]
    assert row["psnr_delta"] == pytest.approx(20.5 - 25.0)  # own test splits: mostly other images
    assert row["psnr_delta_common"] == pytest.approx(1.0)  # d/e alone: 31 against 30
    assert "1 in common" in found["caveat"]

    same = fake_run("same", "old", {"train": ["d/b"], "test": ["d/c", "d/e"]}, {"d/c": 21.0, "d/e": 30.0})
    (found,) = successions([old, same])
    assert found["same_test_set"] and found["caveat"] is None and "psnr_delta_common" not in found["quality"][0]
    assert found["quality"][0]["psnr_delta"] == pytest.approx(0.5)
