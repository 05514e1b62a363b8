"""Consent belongs to the picture, not to a row: every copy shares the most restrictive status.

A copy is any registered image showing identical decoded pixels (the same
`content_sha256`: mode, size and pixel bytes), in the same dataset or another, whatever
its file encoding. Each row keeps the status recorded for it; what training, evaluation
and signing obey is the effective status over all copies, so withdrawing one copy
withdraws the picture everywhere, and granting one copy cannot undo a withdrawal of
another. Near-duplicates (cropped, recoloured, lossily re-encoded) have other pixels and
are not linked.

A row whose content hash is not yet known (an older workspace, its file missing) is
grouped by its file sha256: the same bytes are the same pixels, so it joins the group of
any hashed row with that file, or else forms a group with the rows sharing its bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from registry.models import Image

# Most restrictive first: withdrawn beats unknown (no permission on record), which beats
# granted, which beats not-applicable (no person whose consent is needed).
CONSENT_ORDER = ("withdrawn", "unknown", "granted", "not-applicable")
WITHDRAWN = "withdrawn"
_FILE_GROUP = "file:"  # prefix of a group key taken from a file sha256 (content not hashed yet)


@dataclass(frozen=True)
class ConsentView:
    """Consent as it applies, for a set of images, computed while their session was open."""

    effective: dict[int, str]  # image pk -> most restrictive status over every copy of its picture
    copies: dict[int, list[str]]  # image pk -> keys (dataset/image_id) of the other copies, sorted


def image_key(image: Image) -> str:
    return f"{image.dataset.name}/{image.image_id}"


def most_restrictive(statuses: Iterable[str]) -> str:
    # A status this code does not know grants nothing, so it ranks as "unknown".
    unknown = CONSENT_ORDER.index("unknown")
    ranks = [CONSENT_ORDER.index(s) if s in CONSENT_ORDER else unknown for s in statuses]
    return CONSENT_ORDER[min(ranks, default=unknown)]


def copy_groups(session: Session, images: Iterable[Image]) -> dict[int, list[Image]]:
    """image pk -> every image showing the same picture (itself included), sorted by key."""
    keys = _group_keys(session, list(images))
    members = _members(session, set(keys.values()))
    return {pk: members.get(key, []) for pk, key in keys.items()}


def copies_of(session: Session, image: Image) -> list[Image]:
    """Every registered image showing the same picture as `image`, itself included."""
    return copy_groups(session, [image])[image.id]


def effective_consent(session: Session, images: Iterable[Image]) -> dict[int, str]:
    """image pk -> its effective consent: the most restrictive status over all its copies."""
    return {pk: most_restrictive(m.consent for m in group) for pk, group in copy_groups(session, images).items()}


def consent_view(session: Session, images: Iterable[Image]) -> ConsentView:
    groups = copy_groups(session, images)
    return ConsentView(
        effective={pk: most_restrictive(m.consent for m in group) for pk, group in groups.items()},
        copies={pk: [image_key(m) for m in group if m.id != pk] for pk, group in groups.items()},
    )


def withdrawals(session: Session, images: Iterable[Image], with_note: bool = True) -> dict[int, str]:
    """image pk -> why it may not be used, for each image whose effective consent is withdrawn."""
    reasons = {}
    for pk, group in copy_groups(session, images).items():
        withdrawn = [m for m in group if m.consent == WITHDRAWN]
        if not withdrawn:
            continue
        own = next((m for m in withdrawn if m.id == pk), None)
        if own is not None:
            reasons[pk] = "consent withdrawn" + (f": {own.consent_note}" if with_note and own.consent_note else "")
        else:
            reasons[pk] = f"consent withdrawn for a copy of the same picture ({', '.join(map(image_key, withdrawn))})"
    return reasons


def withdrawn_copies(session: Session, content_sha256: str) -> list[str]:
    """Keys of the images showing this picture when its effective consent is withdrawn, else []."""
    group = _members(session, {content_sha256}).get(content_sha256, [])
    return [image_key(m) for m in group] if most_restrictive(m.consent for m in group) == WITHDRAWN else []


def reached(session: Session, image: Image) -> list[dict[str, str]]:
    """What a consent change to `image` reached: every copy, its recorded and its effective status."""
    group = copies_of(session, image)
    effective = most_restrictive(m.consent for m in group)
    return [{"image": image_key(m), "recorded": m.consent, "effective": effective} for m in group]


def _group_keys(session: Session, images: Sequence[Image]) -> dict[int, str]:
    """image pk -> the key of its picture: its content hash, or a file-hash key when not hashed yet."""
    keys = {image.id: image.content_sha256 for image in images if image.content_sha256}
    unhashed = {image.id: image.sha256 for image in images if not image.content_sha256}
    if unhashed:
        known = dict(
            session.execute(
                select(Image.sha256, Image.content_sha256).where(
                    Image.sha256.in_(set(unhashed.values())), Image.content_sha256.is_not(None)
                )
            ).all()
        )
        keys |= {pk: known.get(sha, _FILE_GROUP + sha) for pk, sha in unhashed.items()}
    return keys


def _members(session: Session, keys: set[str]) -> dict[str, list[Image]]:
    """group key -> its images, sorted by dataset and image id."""
    contents = {key for key in keys if not key.startswith(_FILE_GROUP)}
    files = {key.removeprefix(_FILE_GROUP) for key in keys if key.startswith(_FILE_GROUP)}
    load = selectinload(Image.dataset)
    hashed = session.scalars(select(Image).where(Image.content_sha256.in_(contents)).options(load)).all()
    content_of_file = {image.sha256: image.content_sha256 for image in hashed}
    unhashed = session.scalars(
        select(Image)
        .where(Image.content_sha256.is_(None), Image.sha256.in_(set(content_of_file) | files))
        .options(load)
    ).all()
    groups: dict[str, list[Image]] = {}
    for image in hashed:
        groups.setdefault(image.content_sha256, []).append(image)
    for image in unhashed:
        groups.setdefault(content_of_file.get(image.sha256, _FILE_GROUP + image.sha256), []).append(image)
    return {key: sorted(group, key=lambda m: (m.dataset.name, m.image_id)) for key, group in groups.items()}
