"""A datasheet for a dataset (Gebru et al., "Datasheets for Datasets", 2021), answered from
the registry's records; "unknown" wherever the records are silent.

Consent is answered with the effective status (the most restrictive over every copy of a
picture, registry.consent), since that is what training and evaluation obey.
"""

from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.consent import consent_view
from registry.data_summary import is_research_only
from registry.datasets import get_dataset
from registry.models import ConsentEvent, Evaluation, Image, Run, SplitImage

UNKNOWN = "unknown"
NEAR_DUPLICATES = (
    "the same photo cropped, recoloured, converted between grey and colour, or re-encoded so that its pixels differ"
)


def datasheet(session: Session, name: str) -> list[dict[str, str]]:
    dataset = get_dataset(session, name)
    images = dataset.images
    view = consent_view(session, images)
    consent = Counter(view.effective[i.id] for i in images)
    overridden = [i.image_id for i in images if view.effective[i.id] != i.consent]
    copies = {i.image_id: view.copies[i.id] for i in images if view.copies[i.id]}
    licenses = Counter(i.license for i in images)
    modes = Counter(f"{i.mode}{' -> ' + i.conversion if i.conversion else ''}" for i in images)
    sizes = Counter(f"{i.width}x{i.height}" for i in images)
    paired = sum(1 for i in images if i.noisy is not None)
    attributions = sorted({i.attribution for i in images if i.attribution})
    sources = sorted({i.source for i in images if i.source})
    notes = sorted({i.notes for i in images if i.notes})
    events = session.scalars(
        select(ConsentEvent).join(Image, ConsentEvent.image_id == Image.id).where(Image.dataset_id == dataset.id)
    ).all()
    used_by = sorted(
        set(
            session.scalars(
                select(Run.id)
                .join(SplitImage, SplitImage.run_id == Run.id)
                .join(Image, SplitImage.image_pk == Image.id)
                .where(Image.dataset_id == dataset.id)
            )
        )
    )
    withdrawn = [i.image_id for i in images if view.effective[i.id] == "withdrawn"]
    evaluations = session.execute(
        select(Evaluation.id, Evaluation.run_id).where(Evaluation.dataset == name).order_by(Evaluation.id)
    ).all()
    with_events = {event.image_id for event in events}
    people = {
        i.image_id: reason
        for i in images
        if (reason := _person_reason(i, view.effective[i.id], i.id in with_events)) is not None
    }

    def qa(section: str, question: str, answer: str | None) -> dict[str, str]:
        return {"section": section, "question": question, "answer": answer or UNKNOWN}

    return [
        qa(
            "Motivation",
            "For what purpose was the dataset created?",
            dataset.source and f"Registered as {name!r}; source: {dataset.source}",
        ),
        qa(
            "Motivation", "Who created the dataset and on behalf of which entity?", "; ".join(attributions[:20]) or None
        ),
        qa("Motivation", "Who funded the creation of the dataset?", None),
        qa(
            "Composition",
            "What do the instances represent?",
            f"{len(images)} images ({_modes_words(modes)}) from {dataset.source or 'a source not recorded'}"
            + (f"; {len(notes)} distinct per-image notes (registry data show {name})" if notes else ""),
        ),
        qa("Composition", "How many instances are there?", str(len(images))),
        qa(
            "Composition",
            "What data does each instance consist of?",
            f"image files; modes {dict(modes)}; sizes {dict(sizes.most_common(5))}"
            + (f"; paired: {paired} of {len(images)} clean images have a real noisy file" if paired else ""),
        ),
        qa(
            "Composition",
            "Is there a label or target associated with each instance?",
            (
                f"yes: a paired dataset; each of {paired} clean images is the target of its real noisy file "
                "(the manifest's noisy_file), so it measures real camera noise"
                if paired
                else "no: images only (clean targets for denoising); not paired with real noisy files"
            ),
        ),
        qa("Composition", "Are there recommended data splits?", None),
        qa(
            "Composition",
            "Does the dataset identify any subpopulations or contain data about people?",
            "yes: " + "; ".join(f"{image} ({why})" for image, why in people.items())
            if people
            else "no image's notes say it shows a person and no consent decision is recorded (unrecorded is not "
            "the same as absent)",
        ),
        qa("Composition", "Are there any redundancies in the dataset?", _redundancies(copies)),
        qa(
            "Composition",
            "Is any information missing from individual instances?",
            f"{sum(1 for i in images if not i.attribution)} of {len(images)} images have no attribution recorded",
        ),
        qa(
            "Collection process",
            "How was the data associated with each instance acquired?",
            "; ".join(sources[:10]) or None,
        ),
        qa(
            "Collection process",
            "Were the individuals in question notified / did they consent?",
            f"consent statuses in effect (most restrictive over every copy of each picture): {dict(consent)}"
            + (f"; withdrawn: {', '.join(withdrawn)}" if withdrawn else "")
            + (f"; set by a copy in another dataset for: {', '.join(overridden)}" if overridden else ""),
        ),
        qa(
            "Collection process",
            "Has consent been revoked, and how is that handled?",
            f"{len(events)} consent change(s) recorded; images with withdrawn consent are left out of training and "
            "evaluation unless an evaluation records a reason to include them. A change reaches every registered "
            "copy of the picture (identical decoded pixels, in any dataset) and the most restrictive status wins; "
            f"near-duplicates ({NEAR_DUPLICATES}) are out of scope: they are not linked and need their own "
            "consent record",
        ),
        qa(
            "Preprocessing",
            "Was any preprocessing done?",
            "files are stored byte for byte as registered; a 1-channel model uses colour images as their "
            "ITU-R 601 luminance, a 3-channel model as RGB (the conversion is recorded per image)",
        ),
        qa(
            "Uses",
            "Has the dataset been used for any tasks already?",
            "; ".join(
                part
                for part in (
                    f"training runs using it: {', '.join(used_by)}" if used_by else "",
                    "evaluations: " + ", ".join(f"{e.id} (run {e.run_id})" for e in evaluations) if evaluations else "",
                )
                if part
            )
            or "not used by any recorded run or evaluation",
        ),
        qa(
            "Uses",
            "Are there tasks for which the dataset should not be used?",
            "commercial use: some licences are research-only"
            if any(is_research_only(lic) for lic in licenses)
            else None,
        ),
        qa(
            "Distribution",
            "Under which licence is the dataset distributed?",
            ", ".join(f"{lic} ({n} images)" for lic, n in licenses.items()),
        ),
        qa("Distribution", "Have any third parties imposed restrictions?", None),
        qa("Maintenance", "Who maintains the dataset in this registry?", dataset.added_by),
        qa(
            "Maintenance",
            "What version is this?",
            f"content sha256 {dataset.content_hash}; DVC {dataset.dvc_version}; "
            f"manifest sha256 {dataset.manifest_sha256 or 'none'}",
        ),
        qa("Maintenance", "Will the dataset be updated?", None),
    ]


PERSON_WORDS = re.compile(r"\b(person|people|portrait|faces?|wom[ae]n|m[ae]n|child|children|girl|boy)\b")


def _person_reason(image: Image, effective_consent: str, has_events: bool) -> str | None:
    """Why the records say this image is about a person, or None: its notes say it shows one,
    or someone recorded a consent decision for it (only a person depicted can give or withdraw it)."""
    notes = (image.notes or "").lower()
    if PERSON_WORDS.search(notes) and "no person" not in notes:
        return "its notes say it shows a person"
    if effective_consent in ("granted", "withdrawn"):
        return f"consent {effective_consent}"
    if has_events:
        return "consent changes recorded"
    return None


def _modes_words(modes: Counter) -> str:
    return ", ".join(f"{count} {mode}" for mode, count in modes.items())


def _redundancies(copies: dict[str, list[str]]) -> str:
    """Which images are registered copies of one picture (identical decoded pixels), here or elsewhere."""
    listed = "; ".join(f"{image} = {', '.join(keys)}" for image, keys in list(copies.items())[:20])
    found = f"images showing a picture registered more than once: {listed}" if copies else "no registered copies"
    return f"{found}; near-duplicates ({NEAR_DUPLICATES}) are out of scope: only identical decoded pixels are linked"
