"""`registry ablate`: every variant becomes a registered run of one family, and Table 4 reads them."""

import json
import re

from registry.cli import run as cli_run
from registry.runs import show_run
from tests.conftest import TINY_CONFIG


def test_ablate_trains_each_variant_and_prints_table_4(workspace, tmp_path, capsys):
    family = tmp_path / "family"
    family.mkdir()
    (family / "base.yaml").write_text(TINY_CONFIG)
    (family / "1_full.yaml").write_text("base: base.yaml\nname: full\n")
    (family / "2_bare.yaml").write_text(
        "base: base.yaml\nname: bare\nmodel: {noise_map: false, target: clean, skip_connections: false}\n"
        "optim: {schedule: constant, warmup_steps: 0}\n"
    )
    code = cli_run(["ablate", str(family), "--set", "train.steps=4", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert [row["Ablation_Variant"] for row in result["table4"]] == ["full", "bare"]
    full, bare = result["table4"]
    assert (full["Noise_Modeling"], full["Priors"], full["Training_Schedule"]) == ("Yes", "Yes", "Standard")
    assert (bare["Noise_Modeling"], bare["Priors"], bare["Training_Schedule"]) == ("No", "No", "Altered")
    runs = [show_run(workspace, run_id) for run_id in result["runs"]]
    assert {run.family for run in runs} == {result["family"]}
    assert full["Mean_PSNR"] == next(
        a.mean for a in runs[0].aggregates if (a.method, a.metric, a.sigma) == ("model", "psnr", 25)
    )
    # Every step that can take long shows progress, for each variant (stderr; stdout stays JSON).
    for run_id in result["runs"]:
        assert re.search(f"training {run_id} .* 4/4 ", err) and re.search(f"evaluating {run_id} .* 1/1 ", err), err
    assert len(re.findall("measuring compute cost .* 5/5 ", err)) == 2, err


def test_ablate_needs_variants(workspace, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli_run(["ablate", str(tmp_path / "empty")]) == 2
    assert "no variant configs" in capsys.readouterr().err
