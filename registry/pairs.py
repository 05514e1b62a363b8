"""The real noisy files of a run trained with `noise.kind: pairs`, role by role.

Such a run learns from real noise only, so every image of its split (training,
validation and the test images its evaluation scores) must be paired; the first one
that is not is named before anything is recorded.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.errors import RegistryError
from registry.models import Image, Run

NoisyMembers = dict[str, list[tuple[str, str, str]]]  # role -> [(image key, noisy path, sha256)]


def noisy_members(split: dict[str, list[tuple[str, Image]]]) -> NoisyMembers:
    """role -> each image's noisy file, in split order; RegistryError naming an unpaired image."""
    found: NoisyMembers = {}
    for role, members in split.items():
        found[role] = []
        for key, image in members:
            if image.noisy is None:
                raise RegistryError(
                    f"noise.kind pairs: {key} has no real noisy file; train on paired datasets only "
                    "(a manifest with a noisy_file column)"
                )
            found[role].append((key, image.noisy.path, image.noisy.sha256))
    return found


def recorded_noisy_members(session: Session, run: Run) -> NoisyMembers:
    """The noisy files of a recorded pairs run's split, as `noisy_members` gives them."""
    wanted = {member.image_pk for member in run.splits}
    images = {image.id: image for image in session.scalars(select(Image).where(Image.id.in_(wanted)))}
    split: dict[str, list[tuple[str, Image]]] = {}
    for member in sorted(run.splits, key=lambda m: (m.role, m.position)):
        split.setdefault(member.role, []).append((member.image_key, images[member.image_pk]))
    return noisy_members(split)
