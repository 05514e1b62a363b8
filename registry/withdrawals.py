"""Signed withdrawal lists: a revocation list for training data.

A model that left the building cannot be un-trained, and its signature (and those of its
outputs) stays valid. What a registry can do is publish, signed with its workspace key,
which pictures lost their consent and which of its runs' weights depend on them;
whoever holds such a model or output checks it against the list (`registry denoise` and
`registry verify` with `--withdrawals FILE`, or the location an exported folder records).

The payload (provenance.signed_documents signs its RFC 8785 JSON):

    {"format": "provenoise-withdrawals", "format_version": 1,
     "workspace_id": the registry's id (registry.identity),
     "withdrawn": [{"content_sha256", "file_sha256": [...], "images": [DATASET/IMAGE...]}],
     "affected_runs": [{"run_id", "final_checkpoint_sha256", "images": [...], "successors": [...]}],
     "signed_at": UTC ISO 8601}

A picture is one entry whatever number of copies it has (registry.consent groups copies
by content hash); a run is affected when it trained or validated on one (registry.impact).
A list speaks only for its own registry: checked against a model from another one it is
"not applicable".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from provenance.anchors import Anchor
from provenance.keys import SigningCredentials, describe
from provenance.signed_documents import SIGNED_AT, DocumentError, sign_document, verify_document
from registry.consent import image_key, withdrawals
from registry.db import utcnow
from registry.environment import current_user
from registry.errors import RegistryError
from registry.files import write_new
from registry.identity import registry_id
from registry.impact import affected_runs
from registry.models import Image, Run
from registry.models import WithdrawalList as WithdrawalListRecord
from registry.workspace import Workspace

FORMAT = "provenoise-withdrawals"
FORMAT_VERSION = 1
MAX_BYTES = 64 * 1024 * 1024  # a list names pictures and runs; anything bigger is not one

# How a list applied to one model (ListCheck.status).
LISTED = "listed"
NOT_LISTED = "not listed"
NOT_APPLICABLE = "not applicable"
NOT_FETCHED = "not fetched"
NOT_READ = "not read"


@dataclass(frozen=True)
class PublishedList:
    path: Path
    sha256: str
    workspace_id: str
    signed_at: str
    pictures: int
    runs: int
    signer: str

    def summary(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "sha256": self.sha256,
            "workspace_id": self.workspace_id,
            "signed_at": self.signed_at,
            "withdrawn_pictures": self.pictures,
            "affected_runs": self.runs,
            "signer": self.signer,
        }


def list_payload(session: Session) -> dict[str, Any]:
    """What the registry withdraws now: every withdrawn picture, every run whose weights depend on one."""
    images = session.scalars(select(Image).options(selectinload(Image.dataset))).all()
    reasons = withdrawals(session, images, with_note=False)  # notes may be personal: they stay in the registry
    pictures: dict[str, dict[str, Any]] = {}
    for image in images:
        if image.id not in reasons:
            continue
        group = image.content_sha256 or f"file:{image.sha256}"
        entry = pictures.setdefault(group, {"content_sha256": image.content_sha256, "file_sha256": set(), "images": []})
        entry["file_sha256"].add(image.sha256)
        entry["images"].append(image_key(image))
    affected = affected_runs(session)
    query = select(Run).where(Run.id.in_(list(affected))).options(selectinload(Run.checkpoints))
    runs = {run.id: run for run in session.scalars(query)}
    successors: dict[str, list[str]] = {}
    for run_id, predecessor in session.execute(
        select(Run.id, Run.successor_of).where(Run.successor_of.in_(list(affected))).order_by(Run.created_at, Run.id)
    ):
        successors.setdefault(predecessor, []).append(run_id)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "workspace_id": registry_id(session),
        "withdrawn": [
            {
                "content_sha256": e["content_sha256"],
                "file_sha256": sorted(e["file_sha256"]),
                "images": sorted(e["images"]),
            }
            for _, e in sorted(pictures.items())
        ],
        "affected_runs": [
            {
                "run_id": run_id,
                "final_checkpoint_sha256": _final(runs[run_id]),
                "images": keys,
                "successors": successors.get(run_id, []),
            }
            for run_id, keys in sorted(affected.items())
        ],
    }


def _final(run: Run) -> str | None:
    """The final checkpoint's sha256: what an exported model or a signed output names."""
    return run.checkpoints[-1].sha256 if run.status == "finished" and run.checkpoints else None


def publish(workspace: Workspace, out: Path, credentials: SigningCredentials, force: bool = False) -> PublishedList:
    """Sign the registry's withdrawal list, write it to `out` (temporary file, then rename), record it.

    An existing file is replaced only with `force`; a symbolic link is never written through.
    """
    out = Path(out)
    with workspace.store().reader() as session:
        payload = list_payload(session)
    try:
        document = sign_document(payload, credentials)  # adds the signing time: the list's timestamp
    except DocumentError as exc:
        raise RegistryError(f"cannot sign the withdrawal list: {exc}") from None
    data = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
    write_new(out, data, force)  # registry.files: temporary file and rename, never through a link
    digest = hashlib.sha256(data).hexdigest()
    resolved = out.resolve()
    with workspace.store().transaction() as session:
        session.add(
            WithdrawalListRecord(
                path=workspace.relative(resolved) if resolved.is_relative_to(workspace.root) else str(resolved),
                sha256=digest,
                images=len(payload["withdrawn"]),
                runs=len(payload["affected_runs"]),
                user=current_user(workspace.root),
                created_at=utcnow(),
            )
        )
    return PublishedList(
        out,
        digest,
        payload["workspace_id"],
        document["payload"][SIGNED_AT],
        len(payload["withdrawn"]),
        len(payload["affected_runs"]),
        describe(credentials.chain_pem)[0]["subject"],
    )


@dataclass(frozen=True)
class CheckedList:
    """A withdrawal list whose signature checked out against an anchor the user chose."""

    source: str  # the file as the user (or the model's record) named it
    workspace_id: str
    signed_at: str
    signer: str
    anchor: dict[str, str]
    runs: dict[str, dict[str, Any]]  # run id -> its entry
    pictures: int

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "workspace_id": self.workspace_id,
            "signed_at": self.signed_at,
            "signer": self.signer,
            "anchor": self.anchor.get("label"),
        }


def read_list(path: Path, anchors: list[Anchor], shown: str | None = None) -> CheckedList:
    """The list at `path`, verified; a malformed, altered or untrusted list is a one-line RegistryError."""
    name = shown or str(path)
    try:
        with open(path, "rb") as stream:
            raw = stream.read(MAX_BYTES + 1)
    except OSError as exc:
        raise RegistryError(f"cannot read withdrawal list {name}: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise RegistryError(f"withdrawal list {name}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RegistryError(f"withdrawal list {name} is malformed: not JSON ({exc})") from None
    try:
        verified = verify_document(document, anchors)
    except DocumentError as exc:
        raise RegistryError(f"withdrawal list {name} rejected: {exc}") from None
    try:
        runs = _entries(verified.payload)
    except (KeyError, TypeError, ValueError) as exc:
        raise RegistryError(f"withdrawal list {name} is malformed: {exc}") from None
    payload = verified.payload
    return CheckedList(
        name,
        payload["workspace_id"],
        str(payload.get(SIGNED_AT)),
        verified.signer,
        verified.anchor,
        runs,
        len(payload["withdrawn"]),
    )


def _entries(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """run id -> entry, after checking the payload has the shape this module writes."""
    if payload.get("format") != FORMAT or payload.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"not a {FORMAT} list of version {FORMAT_VERSION}")
    if not isinstance(payload.get("workspace_id"), str) or not isinstance(payload.get("withdrawn"), list):
        raise ValueError("no workspace_id or withdrawn pictures")
    runs: dict[str, dict[str, Any]] = {}
    for entry in payload["affected_runs"]:
        checkpoint = entry.get("final_checkpoint_sha256")
        if (
            not isinstance(entry.get("run_id"), str)
            or not (checkpoint is None or isinstance(checkpoint, str))
            or not isinstance(entry.get("images"), list)
            or not all(isinstance(image, str) for image in entry["images"])
        ):
            raise ValueError(f"an affected run entry is not a run id, checkpoint and image list: {entry!r:.80}")
        runs[entry["run_id"]] = entry
    return runs


@dataclass
class ListCheck:
    """What one withdrawal list says about one model."""

    status: str  # LISTED, NOT_LISTED, NOT_APPLICABLE, NOT_FETCHED, NOT_READ
    source: str
    note: str
    images: list[str] = field(default_factory=list)  # the model's withdrawn training images, when listed
    successors: list[str] = field(default_factory=list)
    checked: CheckedList | None = None

    @property
    def origin(self) -> str:
        """The list, who signed it and when, for messages."""
        if self.checked is None:
            return f"withdrawal list {self.source}"
        return f"withdrawal list {self.source} (signed by {self.checked.signer} at {self.checked.signed_at})"

    def summary(self) -> dict[str, Any]:
        data = {"status": self.status, "source": self.source, "images": self.images, "successors": self.successors}
        return data | ({"list": self.checked.describe()} if self.checked else {})


def check_model(
    checked: CheckedList, run_id: str | None, checkpoint_sha256: str | None, workspace_id: str | None
) -> ListCheck:
    """Whether the list names this model: its registry, run id and final checkpoint must all match."""
    signed = f"withdrawal list {checked.source} (signed by {checked.signer} at {checked.signed_at})"
    if workspace_id != checked.workspace_id:
        return ListCheck(
            NOT_APPLICABLE,
            checked.source,
            f"{signed} is not applicable: it speaks for registry {checked.workspace_id}, "
            f"the model comes from {workspace_id or 'an unnamed registry'}",
            checked=checked,
        )
    entry = checked.runs.get(run_id or "")
    if entry is None or entry.get("final_checkpoint_sha256") != checkpoint_sha256:
        return ListCheck(NOT_LISTED, checked.source, f"{signed} does not list this model", checked=checked)
    images = sorted(entry["images"])
    successors = [s for s in entry.get("successors") or [] if isinstance(s, str)]
    return ListCheck(
        LISTED,
        checked.source,
        f"{signed} lists run {run_id}: trained on since-withdrawn data ({', '.join(images)})",
        images,
        successors,
        checked,
    )


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


class ListSource:
    """Finds and verifies withdrawal lists for several models, each file read once.

    An explicit `--withdrawals FILE` applies to every model; otherwise a model's recorded
    location is used when it is a readable local path (a URL is noted, not fetched).
    """

    def __init__(self, anchors: list[Anchor], explicit: Path | None = None):
        self.anchors = anchors
        self.explicit = read_list(explicit, anchors) if explicit is not None else None
        self._read: dict[str, CheckedList] = {}

    def check(
        self,
        run_id: str | None,
        checkpoint_sha256: str | None,
        workspace_id: str | None,
        location: Any = None,
    ) -> ListCheck | None:
        """What the applicable list says about the model; None when there is no list to consult."""
        if self.explicit is not None:
            return check_model(self.explicit, run_id, checkpoint_sha256, workspace_id)
        if not isinstance(location, str) or not location:
            return None
        if is_url(location):
            return ListCheck(
                NOT_FETCHED,
                location,
                f"the model's withdrawal list is published at {location}; not fetched "
                "(download it and pass --withdrawals FILE)",
            )
        path = Path(location)
        if not path.is_absolute() or not path.is_file():
            return ListCheck(NOT_READ, location, f"the model's withdrawal list {location} is not a readable file here")
        if location not in self._read:
            self._read[location] = read_list(path, self.anchors)
        return check_model(self._read[location], run_id, checkpoint_sha256, workspace_id)
