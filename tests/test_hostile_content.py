"""Hostile content: a crafted manifest, model folder or string gets its reason, never a crash."""

from __future__ import annotations

import json

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
