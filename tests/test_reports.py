"""Transparency reports: every section, numbers equal to the registry's, self-contained HTML
that renders in headless Chromium, a Hugging Face card, no key material, clear errors."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import yaml
from PIL import Image
from sqlalchemy import func, select

from denoiser import metrics
from registry.datasets import add_dataset, set_consent
from registry.evaluations import EvalRequest, evaluate_run
from registry.models import Output, RunMetric
from registry.tracking import train_run
from tests.conftest import cli, synthetic_image, write_dataset

SECTIONS = ("summary", "data", "method", "attribution", "results", "compute", "provenance", "limitations")


@pytest.fixture
def reported(workspace, tiny_config, tmp_path, monkeypatch, capsys):
    """A run without LPIPS, evaluated on a second dataset, with one signed output."""
    monkeypatch.setattr(metrics, "alexnet_weights_path", lambda: tmp_path / "no-weights" / metrics.ALEXNET_WEIGHTS)
    run_id = train_run(workspace, tiny_config)
    add_dataset(workspace, write_dataset(tmp_path / "extra", count=3), "extra")
    set_consent(workspace, "extra/img01", "withdrawn", "asked")
    evaluate_run(workspace, run_id, EvalRequest(["extra"], {"sigmas": [25.0]}))
    noisy = tmp_path / "noisy.png"
    Image.fromarray(synthetic_image(3)).save(noisy)
    assert cli(capsys, "denoise", run_id, noisy, "--out", "out", "--sigma", 25)[0] == 0
    return run_id


def test_json_report_has_every_section_and_the_registrys_numbers(workspace, reported, tmp_path, capsys):
    code, _, err = cli(capsys, "report", reported, "--format", "json", "--out", tmp_path / "r.json")
    assert code == 0, err
    facts = json.loads((tmp_path / "r.json").read_text())
    assert facts["schema_version"] == 1
    (run,) = facts["runs"]
    assert set(SECTIONS) <= set(run)
    with workspace.store().reader() as session:
        recorded = session.scalars(
            select(RunMetric).where(RunMetric.run_id == reported, RunMetric.evaluation_id.is_(None))
        ).all()
        signed = session.scalar(select(func.count()).select_from(Output).where(Output.signed.is_(True)))
    psnr = next(m.mean for m in recorded if (m.method, m.metric, m.sigma) == ("model", "psnr", 25.0))
    assert run["results"]["test_split"]["table2"][0]["Mean_PSNR"] == psnr
    assert run["provenance"]["signed_outputs"] == signed == 1
    assert run["results"]["table3"][0]["Dataset_ID"] == "extra"
    assert run["results"]["evaluations"][0]["left_out"] == [{"image": "extra/img01", "reason": "consent withdrawn"}]
    assert run["data"]["datasets"][0]["name"] == "tiny" and run["attribution"][0]["attribution"] == "tests"
    assert run["summary"]["signing_identities"][0]["subject"].endswith("CN=provenoise development signer")
    assert any("LPIPS is unavailable" in note and "AlexNet" in note for note in run["limitations"])


def test_html_report_is_self_contained_and_renders(workspace, reported, tmp_path, capsys):
    out = tmp_path / "report.html"
    code, _, err = cli(capsys, "report", reported, "--out", out)
    assert code == 0, err
    html = out.read_text()
    for section in SECTIONS:
        assert f'id="{section}-{reported}"' in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing is loaded from the network
    assert html.count("data:image/png;base64,") >= 4  # plots and image grids are embedded
    assert "LPIPS unavailable" in html
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "headless Chromium is needed (Debian package chromium; .ci/run installs it)"
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=420,2400",
            out.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.std() > 10 and (pixels < 128).mean() > 0.01  # text and figures, not a blank page


def test_markdown_is_a_hugging_face_model_card(workspace, reported, tmp_path, capsys):
    out = tmp_path / "README.md"
    assert cli(capsys, "report", reported, "--format", "md", "--out", out)[0] == 0
    text = out.read_text()
    front = yaml.safe_load(text.split("---")[1])
    assert front["license"] == "cc0-1.0"  # all of tiny is CC0-1.0
    assert front["datasets"] == ["tiny"] and "psnr" in front["metrics"] and "lpips" not in front["metrics"]
    assert front["model-index"][0]["results"][0]["metrics"][0]["type"] == "psnr"
    for heading in (
        "## Summary",
        "## Data",
        "## Method",
        "## Attribution",
        "## Results",
        "## Compute cost",
        "## Provenance",
        "## Limitations",
    ):
        assert heading in text
    assert (tmp_path / "README_files" / "run0-loss.png").is_file()


def test_several_runs_make_a_comparison(workspace, reported, tiny_config, tmp_path, capsys):
    other = train_run(workspace, tiny_config, ["train.seed=5", "model.noise_map=false"])
    assert cli(capsys, "report", reported, other, "--out", tmp_path / "both.html")[0] == 0
    html = (tmp_path / "both.html").read_text()
    assert "Side by side" in html and reported in html and other in html


def test_a_comparison_across_different_test_images_says_so(workspace, reported, tiny_config, tmp_path, capsys):
    other = train_run(workspace, tiny_config, ["data.split_seed=3"])
    for fmt in ("html", "md", "json"):
        assert cli(capsys, "report", reported, other, "--format", fmt, "--out", tmp_path / f"r.{fmt}")[0] == 0
        text = " ".join((tmp_path / f"r.{fmt}").read_text().split())
        assert "These runs were tested on different images" in text, fmt
    assert cli(capsys, "report", reported, reported, "--format", "json", "--out", tmp_path / "same.json")[0] == 0
    assert json.loads((tmp_path / "same.json").read_text())["comparison_caveat"] is None


def test_no_report_contains_key_material(workspace, reported, tmp_path, capsys):
    keys = workspace.root / ".registry" / "keys"
    secrets = [
        line
        for name in ("dev-signer.key.pem",)  # the CA's key is not kept (tests/test_provenance.py)
        for line in (keys / name).read_text().splitlines()[1:-1]
    ]
    for fmt in ("html", "md", "json"):
        out = tmp_path / f"r.{fmt}"
        assert cli(capsys, "report", reported, "--format", fmt, "--out", out)[0] == 0
        text = out.read_text()
        assert "PRIVATE KEY" not in text and not any(s in text for s in secrets)


def test_bad_input(workspace, reported, tmp_path, capsys):
    for argv, message in [
        (["report", "no-such-run", "--out", tmp_path / "x.html"], "no run"),
        (["report", reported, "--out", tmp_path / "missing" / "x.html"], "does not exist"),
        (["report", reported, "--out", tmp_path], "is a folder"),
        (["report", reported, "--format", "pdf", "--out", tmp_path / "x.pdf"], "--format must be one of"),
    ]:
        code, out, err = cli(capsys, *argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)


def test_datasheet_answers_from_records(workspace, reported, capsys):
    code, out, err = cli(capsys, "data", "show", "extra", "--datasheet", "--json")
    assert code == 0, err
    answers = {a["question"]: a["answer"] for a in json.loads(out)}
    assert answers["How many instances are there?"] == "3"
    assert "withdrawn: img01" in answers["Were the individuals in question notified / did they consent?"]
    assert answers["Who funded the creation of the dataset?"] == "unknown"
    assert "CC0-1.0 (3 images)" in answers["Under which licence is the dataset distributed?"]


def test_datasheet_counts_people_from_notes_and_consent_and_lists_evaluations(workspace, reported, tmp_path, capsys):
    import csv

    from tests.conftest import write_dataset

    folder = write_dataset(tmp_path / "classic", count=4, consent={"img01": "withdrawn"})
    with open(folder / "MANIFEST.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    notes = {"img00": "a harbour; no person shown", "img01": 'This is the "Lena" image', "img02": "portrait of a man"}
    for row in rows:
        row["notes"] = notes.get(row["image_id"], "")
    with open(folder / "MANIFEST.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert cli(capsys, "data", "add", folder, "--name", "classic")[0] == 0
    assert cli(capsys, "eval", reported, "--dataset", "classic", "--baselines", "gaussian")[0] == 0
    code, out, err = cli(capsys, "data", "show", "classic", "--datasheet", "--json")
    assert code == 0, err
    answers = {a["question"]: a["answer"] for a in json.loads(out)}
    people = answers["Does the dataset identify any subpopulations or contain data about people?"]
    assert people == "yes: img01 (consent withdrawn); img02 (its notes say it shows a person)"
    represent = answers["What do the instances represent?"]
    assert represent.startswith("4 images (4 L) from ") and "Lena" not in represent  # not one image's note
    assert "evaluations: " in answers["Has the dataset been used for any tasks already?"]
    assert f"(run {reported})" in answers["Has the dataset been used for any tasks already?"]
