"""What a run was trained on: datasets, licences, attributions and consent, from records.

Consent is reported as it stands now and as it applies: the effective status over every
copy of a picture (registry.consent). An image whose consent was withdrawn after the run
trained, on its own row or on a copy in another dataset, shows up as
`withdrawn_since_training`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from registry.consent import effective_consent
from registry.models import Image, Run

RESEARCH_ONLY_MARKERS = ("research", "noncommercial", "non-commercial", "-nc-")


def is_research_only(license_id: str) -> bool:
    lowered = license_id.lower()
    return any(marker in lowered for marker in RESEARCH_ONLY_MARKERS)


def training_data(session: Session, run: Run) -> dict[str, Any]:
    members = {m.image_pk: m for m in run.splits}
    images = session.scalars(select(Image).where(Image.id.in_(members)).options(selectinload(Image.dataset))).all()
    effective = effective_consent(session, images)
    datasets: dict[str, dict[str, Any]] = {}
    consent: Counter[str] = Counter()
    withdrawn_since = []
    for image in sorted(images, key=lambda i: (i.dataset.name, i.image_id)):
        entry = datasets.setdefault(
            image.dataset.name,
            {
                "name": image.dataset.name,
                "source": image.dataset.source,
                "license": image.dataset.license,
                "content_hash": image.dataset.content_hash,
                "dvc_version": image.dataset.dvc_version,
                "images_used": 0,
                "licenses": Counter(),
                "attributions": set(),
                "modes": Counter(),  # Pillow modes of the files: L gray, RGB colour, I;16 16-bit...
                "paired": 0,  # images with a real noisy file (a paired dataset)
            },
        )
        entry["images_used"] += 1
        entry["modes"][image.mode] += 1
        entry["paired"] += image.noisy is not None
        entry["licenses"][image.license] += 1
        if image.attribution:
            entry["attributions"].add(image.attribution)
        consent[effective[image.id]] += 1
        if effective[image.id] == "withdrawn":
            withdrawn_since.append(f"{image.dataset.name}/{image.image_id}")
    for entry in datasets.values():
        entry["licenses"] = dict(sorted(entry["licenses"].items()))
        entry["modes"] = dict(sorted(entry["modes"].items()))
        entry["attributions"] = sorted(entry["attributions"])
    licenses = sorted({lic for entry in datasets.values() for lic in entry["licenses"]})
    return {
        "datasets": list(datasets.values()),
        "licenses": licenses,
        "research_only": any(is_research_only(lic) for lic in licenses),
        "consent": dict(sorted(consent.items())),
        "excluded_at_training": run.excluded,
        "withdrawn_since_training": withdrawn_since,
    }
