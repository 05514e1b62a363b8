"""`registry verify`: check signed outputs (and model folders), then cross-check a registry.

Trust comes only from what the user chose (registry.trust_store): never from a CA that
sits in a workspace enclosing the file. C2PA verification (signature, chain to a chosen
anchor, data hash, expiry) comes from provenance.verification, and each trusted file
names the anchor that validated it. A registry (from --db, $REGISTRY_DB_URL or the
enclosing workspace) is consulted only when its id is the one the output's manifest
names, as the registry that recorded the output or the one that holds the model's run:
there a missing or changed run, or an output it never recorded, fails the file. For a
file with no manifest, the registry can still tell that its pixels are those of a
recorded output (a re-encoded copy lost its manifest).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image as PILImage
from sqlalchemy import select
from sqlalchemy.orm import Session

from provenance.anchors import Anchor
from provenance.model_signatures import verify_folder
from provenance.pixels import pixel_sha256
from provenance.signing import content_media_type
from provenance.verification import (
    INTEGRITY_FAILURES,
    NO_MANIFEST,
    UNTRUSTED,
    Verification,
    parent_validation,
    verify_image,
)
from registry.db import Store
from registry.errors import RegistryError
from registry.identity import registry_id
from registry.impact import affected_runs
from registry.limits import pixel_budget
from registry.manifests import sha256_file
from registry.model_folders import is_model_folder, read_record
from registry.models import Output, Run
from registry.photos import check_readable_image
from registry.run_models import SELF_DECLARED_CLAIMS, VERIFIED_CLAIMS
from registry.runs import RUN_LOADS, run_fingerprint
from registry.trust_store import chosen_anchors, model_anchors, untrusted_workspace_ca
from registry.withdrawals import LISTED, ListSource
from registry.workspace import DB_ENV, Workspace

UNKNOWN_RUN = "unknown run"
RUN_CHANGED = "run changed since signing"
NOT_RECORDED = "not recorded in its registry"
RE_ENCODED = "re-encoded (manifest stripped)"
WRONG_CHECKPOINT = "checkpoint does not match the run"


@dataclass
class FileReport:
    path: Path
    ok: bool
    reason: str
    verification: Verification | None = None
    notes: list[str] = field(default_factory=list)
    kind: str = "image"  # or "model folder"
    anchor: dict[str, str] | None = None
    folder_signer: str | None = None  # a model folder's signing certificate subject
    registry: str = "not checked"
    unreadable: bool = False  # not an image that can be opened within the pixel budget: exit 2
    # The model's training images whose consent was withdrawn after it was trained, as a signed
    # withdrawal list or the model's registry says (None: nobody said); the signature stays valid.
    withdrawn_training_data: list[str] | None = None
    withdrawal_list: dict[str, Any] | None = None  # what the withdrawal list consulted says of the model

    def withdrawn(self, images: list[str], source: str) -> None:
        """Note that the model was trained on since-withdrawn data (the file still verifies)."""
        self.withdrawn_training_data = sorted(set(self.withdrawn_training_data or []) | set(images))
        self.notes.append(
            f"TRAINED ON SINCE-WITHDRAWN DATA: consent for {', '.join(sorted(images))} was withdrawn after the model "
            f"was trained ({source}); the signature stays valid, the model should not be used"
        )

    def fail(self, reason: str) -> None:
        self.ok, self.reason = False, reason

    def summary(self) -> dict[str, Any]:
        v = self.verification
        lineage = v.lineage if v else {}
        data = lineage.get("training_data") if isinstance(lineage.get("training_data"), dict) else {}
        return {
            "file": str(self.path),
            "kind": self.kind,
            "ok": self.ok,
            "unreadable": self.unreadable,
            "reason": self.reason,
            "signed_by": (v.signer or {}).get("common_name") if v else self.folder_signer,
            "issuer": (v.signer or {}).get("issuer") if v else None,
            "anchor": self.anchor,
            "time_stamp": v.time_stamp if v else None,
            "signed_at": (v.signer or {}).get("time") if v else None,
            "run": lineage.get("run_id"),
            "model": lineage.get("model_name"),
            "model_claims": lineage.get("claims"),
            "checkpoint_sha256": lineage.get("checkpoint_sha256"),
            "trained_on": [_dataset_line(d) for d in data.get("datasets", []) if isinstance(d, dict)],
            "consent": data.get("consent"),
            "latest_audit": lineage.get("latest_audit"),
            "training_mining": v.training_mining if v else None,
            "training_mining_entries": v.training_mining_entries if v else {},
            "input": lineage.get("input"),
            "sigma": lineage.get("sigma"),
            "channels": lineage.get("channels"),  # input/output/model channels and the mode (luminance...)
            "registry": self.registry,
            "withdrawn_training_data": self.withdrawn_training_data,
            "withdrawal_list": self.withdrawal_list,
            "notes": self.notes,
        }


def _dataset_line(dataset: dict[str, Any]) -> str:
    licenses = dataset.get("licenses") or {}
    return f"{dataset.get('name')} ({', '.join(map(str, licenses))})"


@dataclass
class Registry:
    """The registry a verifier may consult, and its id."""

    store: Store
    id: str


def open_registry(workspace: Workspace | None, db_url: str | None) -> Registry | None:
    """The registry named by --db or $REGISTRY_DB_URL, else the enclosing workspace's, else none."""
    url = db_url or os.environ.get(DB_ENV) or None
    if url is None and workspace is None:
        return None
    store = Store(url) if url else workspace.store()
    if url:
        store.check_schema()
    with store.reader() as session:
        return Registry(store, registry_id(session))


def verify_files(
    paths: list[Path],
    workspace: Workspace | None,
    extra_trust: list[Path] = (),
    db_url: str | None = None,
    withdrawals: Path | None = None,
    max_pixels: int | None = None,
) -> list[FileReport]:
    """`withdrawals`: a signed withdrawal list to check each file's model against (default: the
    location the model recorded, when it is a readable local path); a bad list is a usage error."""
    _check_readable(paths)
    anchors = chosen_anchors(list(extra_trust))
    lists = ListSource(anchors, withdrawals)
    registry = open_registry(workspace, db_url)
    budget = max_pixels or pixel_budget(workspace)
    reports = []
    for path in map(Path, paths):
        if path.is_dir():
            reports.append(_verify_folder(path, model_anchors(list(extra_trust)), registry, lists))
        elif (problem := _unreadable(path, budget)) is not None:
            reports.append(problem)
        else:
            reports.append(_verify_image(path, anchors, registry, lists))
    if workspace is not None:
        _note_untrusted_workspace_ca(workspace, reports)
    return reports


def _check_readable(paths: list[Path]) -> None:
    """Usage errors (exit 2) before any verification: missing files, folders, formats."""
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise RegistryError(f"no such file: {', '.join(missing)}")
    for path in map(Path, paths):
        if path.is_dir():
            if not is_model_folder(path):
                raise RegistryError(f"{path} is a folder but not an exported model folder")
            continue
        if content_media_type(path) is None:  # judged by its bytes: a renamed file is what it is
            raise RegistryError(f"{path}: not an image in a format that can carry a C2PA manifest")


def _unreadable(path: Path, max_pixels: int) -> FileReport | None:
    """A failed report for a file that cannot be opened as an image (a decompression bomb, a
    truncated header): nothing else of it is looked at, and the batch goes on."""
    try:
        check_readable_image(path, max_pixels)
    except RegistryError as exc:
        return FileReport(path, False, f"not a readable image: {exc}", unreadable=True)
    return None


def _verify_image(path: Path, anchors: list[Anchor], registry: Registry | None, lists: ListSource) -> FileReport:
    verification = verify_image(path, anchors)
    report = FileReport(path, verification.ok, verification.reason, verification, anchor=verification.anchor)
    if verification.reason == NO_MANIFEST:
        if registry is not None:
            _recognise_reencoded(path, registry, report)
        return report
    _describe_claims(verification, report)
    if verification.ok:
        _cross_check(path, verification, registry, report)
        lineage = verification.lineage
        _check_withdrawals(
            report,
            lists,
            lineage.get("run_id"),
            lineage.get("checkpoint_sha256"),
            lineage.get("model_workspace_id"),
            lineage.get("withdrawals_location"),
        )
    return report


def _check_withdrawals(
    report: FileReport,
    lists: ListSource,
    run_id: Any,
    checkpoint_sha256: Any,
    workspace_id: Any,
    location: Any,
) -> None:
    """What a withdrawal list says of the file's model: listed (a note; the file still verifies),
    not listed, not applicable (another registry's list), or not fetched (a URL)."""
    str_or_none = [value if isinstance(value, str) else None for value in (run_id, checkpoint_sha256, workspace_id)]
    check = lists.check(*str_or_none, location)
    if check is None:
        return
    report.withdrawal_list = check.summary()
    if check.status == LISTED:
        successors = f"; its successor: run {', '.join(check.successors)}" if check.successors else ""
        report.withdrawn(check.images, check.origin + successors)
    else:
        report.notes.append(check.note)


def _describe_claims(verification: Verification, report: FileReport) -> None:
    """Notes on what the signer vouched for: validating anchor, time-stamp, model claims, input."""
    if report.anchor:
        report.notes.append(f"validated by {report.anchor['label']} ({report.anchor['subject']})")
    if verification.time_stamp == "trusted":
        report.notes.append(f"time-stamped {verification.signer.get('time', '')} by a trusted authority")
    elif verification.time_stamp == "untrusted":
        report.notes.append("carries a time-stamp whose authority you do not trust")
    lineage = verification.lineage
    claims = lineage.get("claims")
    if claims == SELF_DECLARED_CLAIMS:
        signature = lineage.get("model_signature") or {}
        report.notes.append(
            f"model claims SELF-DECLARED: its folder was used unverified ({signature.get('status', 'unknown')}); "
            "its training data, licences and audit are the folder's own word"
        )
    elif claims == VERIFIED_CLAIMS:
        signer = (lineage.get("model_signature") or {}).get("signer") or {}
        report.notes.append(f"model claims verified: its folder was signed by {signer.get('subject', 'unknown')}")
    report.notes += _input_notes(verification)
    if any((entry or {}).get("use") == "constrained" for entry in verification.training_mining_entries.values()):
        report.notes.append("training/mining 'constrained' counts as notAllowed without the rights holder's terms")


def _input_notes(verification: Verification) -> list[str]:
    recorded = verification.lineage.get("input")
    notes = []
    if isinstance(recorded, dict):
        state = recorded.get("manifest")
        signer = (recorded.get("signer") or {}).get("common_name") or "an unknown signer"
        if recorded.get("accepted_invalid"):
            notes.append(
                f"INPUT FAILED VERIFICATION ({recorded.get('reason')}) and was accepted with --accept-invalid-input"
            )
        elif state == "trusted":
            notes.append(f"input was signed by {signer}, trusted by the denoiser's user")
        elif state and state != "none":
            notes.append(f"input was signed by {signer}: {state}")
    parent = parent_validation(verification)
    if parent and parent["reason"].startswith(INTEGRITY_FAILURES):
        if not (isinstance(recorded, dict) and recorded.get("accepted_invalid")):
            notes.append(f"its input's own manifest had failed verification when it was signed ({parent['reason']})")
    return notes


def _cross_check(path: Path, verification: Verification, registry: Registry | None, report: FileReport) -> None:
    lineage = verification.lineage
    if registry is None:
        report.notes.append("registry not checked: no registry here (give --db or run inside its workspace)")
        return
    with registry.store.reader() as session:
        recorded = session.scalar(select(Output).where(Output.output_sha256 == sha256_file(path)).limit(1))
        output_registry, model_registry = lineage.get("workspace_id"), lineage.get("model_workspace_id")
        if output_registry is None and model_registry is None and recorded is not None:
            # Signed before manifests named their registry: the recording row binds it here, and
            # a run the manifest drew from "registry" records must still be here.
            output_registry = registry.id
            from_here = recorded.run_id or lineage.get("source") == "registry"
            model_registry = registry.id if from_here else None
        if registry.id not in (output_registry, model_registry):
            named = output_registry or model_registry or "none"
            report.notes.append(f"registry not checked: the output names registry {named}, this one is {registry.id}")
            return
        report.registry = f"checked ({registry.id})"
        if model_registry == registry.id:
            _check_run(session, lineage, report)
        if output_registry == registry.id:
            if recorded is None:
                missing = f"{NOT_RECORDED}: registry {registry.id} has no record of this output"
                if report.ok:
                    report.fail(missing)
                else:  # the run's failure is the headline; this one is a note
                    report.notes.append(missing)
                return
            report.notes.append(
                f"recorded as output {recorded.output_path} on {recorded.created_at:%Y-%m-%d %H:%M} UTC"
            )


def _check_run(session: Session, lineage: dict[str, Any], report: FileReport) -> None:
    """The run the manifest names must still be in its registry, unchanged."""
    run_id = lineage.get("run_id")
    run = session.get(Run, run_id, options=RUN_LOADS) if isinstance(run_id, str) else None
    if run is None:
        report.fail(f"{UNKNOWN_RUN}: run {run_id!r} is not in the registry that recorded it (deleted?)")
        return
    final = run.checkpoints[-1].sha256 if run.checkpoints else None
    if final != lineage.get("checkpoint_sha256"):
        report.fail(
            f"{WRONG_CHECKPOINT}: run {run.id}: manifest names {lineage.get('checkpoint_sha256')}, run has {final}"
        )
        return
    pinned = lineage.get("run_record")
    if isinstance(pinned, dict):
        now = run_fingerprint(run)
        changed = sorted(key for key, value in pinned.items() if now.get(key) != value)
        if changed:
            report.fail(f"{RUN_CHANGED}: run {run.id}: {', '.join(changed)} differ from what the output pinned")
            return
    report.notes.append(f"run {run.id} and its final checkpoint match the registry")
    if run.audits:
        report.notes.append(f"latest audit of the run now: {run.audits[-1].verdict}")
    withdrawn = affected_runs(session, [run.id]).get(run.id)
    if withdrawn:
        report.withdrawn(withdrawn, f"the records of registry {registry_id(session)}")


def _recognise_reencoded(path: Path, registry: Registry, report: FileReport) -> None:
    try:
        pixels = pixel_sha256(path)
    except (OSError, SyntaxError, ValueError, PILImage.DecompressionBombError):
        return  # pixels that cannot be decoded (or would be a decompression bomb) match no output
    with registry.store.reader() as session:
        output = session.scalar(select(Output).where(Output.pixel_sha256 == pixels, Output.signed.is_(True)).limit(1))
    if output is not None:
        report.reason = RE_ENCODED
        run = output.run_id or output.model_run_id
        report.notes.append(f"its pixels are those of signed output {output.output_path} (run {run})")


def _verify_folder(folder: Path, anchors: list[Anchor], registry: Registry | None, lists: ListSource) -> FileReport:
    verification = verify_folder(folder, anchors)
    detail = f": {verification.detail}" if verification.detail else ""
    report = FileReport(folder, verification.ok, "ok" if verification.ok else verification.status + detail)
    report.kind, report.anchor = "model folder", verification.anchor
    report.folder_signer = verification.signer.get("subject")
    if report.folder_signer:
        report.notes.append(f"signed by {report.folder_signer}")
    if report.anchor:
        report.notes.append(f"validated by {report.anchor['label']} ({report.anchor['subject']})")
    if not verification.ok:
        return report
    try:
        meta, _ = read_record(folder)
    except RegistryError as exc:
        report.fail(str(exc))
        return report
    if registry is not None and meta.get("workspace_id") == registry.id:
        report.registry = f"checked ({registry.id})"
        with registry.store.reader() as session:
            _check_run(session, {"run_id": meta.get("run_id"), "checkpoint_sha256": meta.get("weights_sha256")}, report)
    _check_withdrawals(
        report,
        lists,
        meta.get("run_id"),
        meta.get("weights_sha256"),
        meta.get("workspace_id"),
        meta.get("withdrawals_location"),
    )
    return report


def _note_untrusted_workspace_ca(workspace: Workspace, reports: list[FileReport]) -> None:
    """Say why a file signed in this workspace may show as untrusted: its CA is not the user's choice."""
    if not any(report.reason.startswith(UNTRUSTED) for report in reports):
        return
    ca = untrusted_workspace_ca(workspace.registry_dir)
    if ca is None:
        return
    for report in reports:
        if report.reason.startswith(UNTRUSTED):
            report.notes.append(
                f"the workspace at {workspace.root} has its own CA (sha256 {ca['sha256_fingerprint'][:16]}...), "
                "which you have not chosen to trust; trust it (`registry keys trust`) only if you made it "
                "or know who did: a CA that came with a download vouches for nothing"
            )
