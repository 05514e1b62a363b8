"""The committed model folders still denoise as their signed records say they did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provenance.model_signatures import SIGNED
from registry.model_folders import open_model_folder
from registry.reference_check import TOLERANCE_DB, reference_check
from registry.run_models import MODEL_FILE
from registry.trust_store import model_anchors

MODELS = sorted(
    path for path in (Path(__file__).resolve().parent.parent / "models").iterdir() if (path / MODEL_FILE).is_file()
)


@pytest.mark.parametrize("folder", MODELS, ids=lambda path: path.name)
def test_a_committed_model_denoises_as_its_signed_folder_says(folder):
    loaded = open_model_folder(folder, model_anchors())  # refused unless signed by a shipped publisher
    assert loaded.signature["status"] == SIGNED
    recorded = json.loads((folder / MODEL_FILE).read_text())["reference_check"]
    measured = reference_check(loaded.network, loaded.config)
    assert {k: v for k, v in measured.items() if "psnr" not in k} == {
        k: v for k, v in recorded.items() if "psnr" not in k
    }
    assert measured["noisy_psnr_db"] == pytest.approx(recorded["noisy_psnr_db"], abs=1e-4)  # the same noisy input
    assert measured["psnr_db"] == pytest.approx(recorded["psnr_db"], abs=TOLERANCE_DB)
    assert measured["psnr_db"] > measured["noisy_psnr_db"] + 5  # and it denoises
