"""Hostile content: a crafted manifest, model folder or string gets its reason, never a crash."""

from __future__ import annotations

import json
import re

import pytest

from provenance.keys import CA_CERT, create_development_keys
from tests.c2pa_files import signed_png
from tests.conftest import cli

CRAFTED_LINEAGE = {
    "input is text": ({"input": "x"}, "input should be a valid dictionary"),
    "signer is text": ({"input": {"manifest": "trusted", "signer": "x"}}, "input.signer should be"),
    "model signature is text": ({"claims": "self-declared", "model_signature": "x"}, "model_signature should be"),
    "licences are a number": ({"training_data": {"datasets": [{"licenses": 5}]}}, "datasets.0.licenses should be"),
    "run id is a list": ({"run_id": ["a"]}, "run_id should be a valid string"),
    "sigma is text": ({"sigma": "25"}, "sigma should be a valid number"),
    "channels are text": ({"channels": "x"}, "channels should be"),
}


@pytest.fixture
def keys(tmp_path):
    create_development_keys(tmp_path / "keys")
    return tmp_path / "keys"


def test_a_crafted_lineage_assertion_fails_its_file_only(keys, tmp_path, capsys):
    credentials = create_development_keys(keys)
    good = signed_png(tmp_path / "good.png", credentials, facts={"sigma": 25, "channels": {"input": 3}})
    files = [
        signed_png(tmp_path / f"{i}.png", credentials, facts=facts)
        for i, (facts, _) in enumerate(CRAFTED_LINEAGE.values())
    ]
    code, out, err = cli(capsys, "verify", *files, good, "--trust", keys / CA_CERT, "--json")
    assert code == 1, err
    reports = {report["file"]: report for report in json.loads(out)}
    for path, (_, expected) in zip(files, CRAFTED_LINEAGE.values()):
        assert reports[str(path)]["ok"] is False
        assert reports[str(path)]["reason"].startswith("malformed lineage assertion: ")
        assert expected in reports[str(path)]["reason"]
    assert reports[str(good)]["ok"] is True
    code, out, _ = cli(capsys, "verify", *files, good, "--trust", keys / CA_CERT)  # the human form too
    assert code == 1 and "malformed lineage assertion" in out


@pytest.mark.parametrize(
    "assertion, reason",
    [
        ({"input": []}, "input should be a valid dictionary"),
        ({"input": {"signer": {"common_name": 5}}}, "input.signer.common_name should be a valid string"),
        ({"schema": "2"}, "schema should be a valid integer"),  # read under its alias
        ({"run_record": {"checkpoint": 1}}, "run_record.checkpoint should be a valid string"),
        ({"sigma": "25", "steps": "x"}, "sigma should be a valid number (1 more problem)"),
        ({"run_id": 3, "sigma": "25", "steps": "x"}, "run_id should be a valid string (2 more problems)"),
        ([], "(the assertion) should be a valid dictionary"),
        ({"sigma": 25.0, "written_by_a_newer_version": {"any": ["shape"]}}, None),
    ],
)
def test_a_lineage_problem_is_named_by_its_field_path_in_one_line(assertion, reason):
    from provenance.lineage_schema import lineage_problem

    assert lineage_problem(assertion) == reason


def noisy_png(path, side: int):
    import numpy as np
    from PIL import Image

    Image.fromarray((np.random.default_rng(0).random((side, side)) * 255).astype("uint8")).save(path)
    return path


def edit_record(folder, change) -> None:
    from registry.run_models import MODEL_FILE

    record = json.loads((folder / MODEL_FILE).read_text())
    change(record)
    (folder / MODEL_FILE).write_text(json.dumps(record))


def denoise_unverified(folder, tmp_path, capsys) -> tuple[int, str, str]:
    """`registry denoise` of a small noisy image with a model folder whose signature an edit broke."""
    noisy = noisy_png(tmp_path / "n.png", 24)
    return cli(
        capsys, "denoise", folder, noisy, "--out", tmp_path / "out", "--sigma", 25, "--no-sign", "--unverified-model"
    )


def test_a_model_folder_asking_for_unbounded_threads_gets_the_machines_cores(tmp_path, capsys):
    import os

    import torch

    from tests.photo_models import random_model_folder

    folder = random_model_folder(tmp_path / "model", tmp_path / "keys")
    edit_record(folder, lambda record: record["config"]["train"].update(threads=100_000))
    code, _, err = denoise_unverified(folder, tmp_path, capsys)
    assert code == 0, err
    assert torch.get_num_threads() <= (os.cpu_count() or 1)


def test_self_attention_over_too_many_positions_is_refused(tmp_path, capsys):
    from tests.photo_models import random_model_folder

    folder = random_model_folder(tmp_path / "model", tmp_path / "keys", attention_levels=3)  # full resolution
    trust = ["--trust", tmp_path / "keys" / CA_CERT, "--no-sign", "--sigma", 25]
    small, large = noisy_png(tmp_path / "small.png", 48), noisy_png(tmp_path / "large.png", 100)
    assert cli(capsys, "denoise", folder, small, "--out", tmp_path / "a", *trust)[0] == 0  # 2,304 positions
    code, _, err = cli(capsys, "denoise", folder, large, "--out", tmp_path / "b", "--tile", 0, *trust)
    assert code == 2 and "would compare 10,000 positions at once (at most 4,096)" in err
    assert not (tmp_path / "b").exists()


def test_weights_of_another_architecture_get_one_line(tmp_path, capsys):
    from tests.photo_models import random_model_folder

    folder = random_model_folder(tmp_path / "model", tmp_path / "keys")
    edit_record(folder, lambda record: record["config"]["model"].update(depth=5))
    code, _, err = denoise_unverified(folder, tmp_path, capsys)
    assert code == 2 and "the weights do not fit the unet its config describes" in err


@pytest.mark.parametrize("config", ["x", None, [1]])
def test_a_record_without_a_config_mapping_gets_one_line(tmp_path, capsys, config):
    from tests.photo_models import random_model_folder

    folder = random_model_folder(tmp_path / "model", tmp_path / "keys")
    edit_record(folder, lambda record: record.update(config=config) if config is not None else record.pop("config"))
    code, _, err = denoise_unverified(folder, tmp_path, capsys)
    assert code == 2 and "its record has no config mapping" in err


HOSTILE = '<img src=x onerror="alert(1)">\n| forged | row |\n[click](javascript:alert(1)) **bold**'


def test_markdown_reports_and_cards_keep_hostile_text_inert(workspace, tiny_config, tmp_path, capsys):
    import csv

    from registry.tracking import train_run
    from tests.conftest import write_dataset

    source = write_dataset(tmp_path / "hostile")
    with open(source / "MANIFEST.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["attribution"], row["source"] = HOSTILE, HOSTILE
    with open(source / "MANIFEST.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert cli(capsys, "data", "add", source, "--name", "hostile")[0] == 0
    run_id = train_run(workspace, tiny_config, ["data.datasets=[hostile]"])
    assert cli(capsys, "report", run_id, "--format", "md", "--out", tmp_path / "card.md")[0] == 0
    assert cli(capsys, "export", run_id, "--out", tmp_path / "model", "--no-sign")[0] == 0
    for text in ((tmp_path / "card.md").read_text(), (tmp_path / "model" / "MODEL_CARD.md").read_text()):
        for live in (r"<img", r"\]\(javascript:", r"\*\*bold"):  # unless escaped, each would be live markup
            assert not re.search(r"(?<!\\)" + live, text), live
        assert "\n| forged |" not in text  # the newline did not start a table row
    assert "\\<img src=x" in (tmp_path / "card.md").read_text()  # shown, as text
