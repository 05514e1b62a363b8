"""The input's rights travel (issue 9, capability 4): each CAWG training-mining entry is kept,
the most restrictive of input, training data and workspace policy wins, `constrained` never
loosens anything (its constraint_info kept), and the output says where each came from."""

import json

import pytest

from provenance.keys import create_development_keys
from provenance.rights import (
    ALLOWED,
    CONSTRAINED,
    MINING_ENTRIES,
    NOT_ALLOWED,
    assertion,
    decide,
    everywhere,
    from_assertion,
)
from provenance.verification import verify_image
from registry.workspace import update_settings
from tests.c2pa_files import signed_png
from tests.conftest import cli

TRAINING = "cawg.ai_training"
ONLY_TRAINING_FORBIDDEN = {entry: {"use": ALLOWED} for entry in MINING_ENTRIES} | {TRAINING: {"use": NOT_ALLOWED}}
CONSTRAINED_EVERYWHERE = {
    entry: {"use": CONSTRAINED, "constraint_info": "mailto:rights@example.com"} for entry in MINING_ENTRIES
}


def test_each_entry_takes_its_most_restrictive_source():
    decisions = decide([from_assertion({"entries": ONLY_TRAINING_FORBIDDEN}), everywhere("workspace policy", ALLOWED)])
    assert decisions[TRAINING].use == NOT_ALLOWED and decisions[TRAINING].sources[0].origin == "input"
    assert all(decisions[e].use == ALLOWED for e in MINING_ENTRIES if e != TRAINING)


def test_constrained_never_loosens_and_keeps_its_constraint_info():
    decisions = decide([from_assertion({"entries": CONSTRAINED_EVERYWHERE}), everywhere("workspace policy", ALLOWED)])
    entries = assertion(decisions)["data"]["entries"]
    assert all(
        value == {"use": CONSTRAINED, "constraint_info": "mailto:rights@example.com"} for value in entries.values()
    )
    stricter = decide([from_assertion({"entries": CONSTRAINED_EVERYWHERE}), everywhere("training data", NOT_ALLOWED)])
    assert all(d.use == NOT_ALLOWED for d in stricter.values())


def test_an_unknown_use_counts_as_not_allowed_and_missing_sources_default_to_not_allowed():
    decisions = decide([from_assertion({"entries": {TRAINING: {"use": "maybe"}}})])
    assert decisions[TRAINING].use == NOT_ALLOWED
    assert all(d.use == NOT_ALLOWED for d in decide([]).values())


@pytest.fixture
def permissive(workspace):
    update_settings(workspace.root, training_mining=ALLOWED)
    return workspace


@pytest.mark.parametrize(
    "entries, expected",
    [
        (ONLY_TRAINING_FORBIDDEN, {e: (NOT_ALLOWED if e == TRAINING else ALLOWED) for e in MINING_ENTRIES}),
        (CONSTRAINED_EVERYWHERE, dict.fromkeys(MINING_ENTRIES, CONSTRAINED)),
    ],
    ids=["mixed", "constrained"],
)
def test_the_inputs_restrictions_reach_the_signed_output(permissive, signed_model, tmp_path, capsys, entries, expected):
    source = signed_png(tmp_path / "photo.png", create_development_keys(tmp_path / "camera"), mining_entries=entries)
    code, out, err = cli(
        capsys, "denoise", signed_model.folder, source, "--out", "out", "--sigma", 25, "--trust", signed_model.ca
    )
    assert code == 0, err
    output = permissive.root / "out" / "photo.png"
    verification = verify_image(output, [])
    assert {e: v["use"] for e, v in verification.training_mining_entries.items()} == expected
    explained = verification.lineage["training_mining"]
    for entry, use in expected.items():
        origins = {source["from"] for source in explained[entry]["sources"]}
        assert explained[entry]["use"] == use
        assert origins == ({"input"} if use != ALLOWED else {"input", "workspace policy"})
    if entries is CONSTRAINED_EVERYWHERE:
        assert verification.training_mining_entries[TRAINING]["constraint_info"] == "mailto:rights@example.com"
    code, out, _ = cli(capsys, "verify", output, "--json")
    (report,) = json.loads(out)
    assert report["training_mining"] in ("mixed", CONSTRAINED)


def test_c2pa_1_names_and_malformed_assertions_still_restrict():
    legacy = decide([from_assertion({"entries": {"c2pa.ai_training": {"use": NOT_ALLOWED}}})])
    assert legacy[TRAINING].use == NOT_ALLOWED
    for malformed in ({"entries": "none"}, {"entries": {TRAINING: "notAllowed"}}, []):
        decisions = decide([from_assertion(malformed), everywhere("workspace policy", ALLOWED)])
        assert decisions[TRAINING].use == NOT_ALLOWED, malformed
