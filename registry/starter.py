"""The starter dataset: natural photographs bundled with the installed scikit-image.

The files are copied byte for byte from skimage's data folder; the packaged manifest
gives each one's source, licence, attribution and consent as scikit-image documents
them. Identical files give an identical DVC version, so a fresh clone that rebuilds
them leaves the committed data.dvc unchanged.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from registry.datasets import Progress, add_dataset
from registry.models import Dataset
from registry.workspace import Workspace

STARTER_NAME = "starter"
MANIFEST = Path(__file__).parent / "starter" / "manifest.csv"


def skimage_data_dir() -> Path:
    import skimage.data

    return Path(skimage.data.__file__).parent


def ensure_starter(workspace: Workspace, progress: Progress = lambda done, total: None) -> bool:
    """Register the starter dataset unless it is already recorded; True when added now."""
    with workspace.store().reader() as session:
        if session.scalar(select(Dataset).where(Dataset.name == STARTER_NAME)):
            return False
    add_dataset(
        workspace,
        skimage_data_dir(),
        STARTER_NAME,
        manifest=MANIFEST,
        source="scikit-image sample data (skimage.data), bundled with the installed scikit-image",
        license=None,
        progress=progress,
    )
    return True
