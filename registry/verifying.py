"""`registry verify`: check signed outputs, then cross-check them against the registry.

C2PA verification (signature, chain to a trusted CA, data hash) comes from
provenance.verification; when a workspace is reachable its records add what a
signature cannot: whether the run exists and its checkpoint is the one named, whether
the output was recorded, and, for a file with no manifest, whether its pixels are those
of a recorded output (a re-encoded copy lost its manifest).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from provenance.pixels import pixel_sha256
from provenance.signing import SigningError
from provenance.verification import NO_MANIFEST, Verification, verify_image
from registry.errors import RegistryError
from registry.manifests import sha256_file
from registry.models import Output, Run
from registry.runs import RUN_LOADS
from registry.signing_keys import trust_anchors
from registry.workspace import Workspace

UNKNOWN_RUN = "unknown run"
RE_ENCODED = "re-encoded (manifest stripped)"
WRONG_CHECKPOINT = "checkpoint does not match the run"


@dataclass
class FileReport:
    path: Path
    ok: bool
    reason: str
    verification: Verification | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        v = self.verification
        lineage = v.lineage if v else {}
        data = lineage.get("training_data") or {}
        return {
            "file": str(self.path),
            "ok": self.ok,
            "reason": self.reason,
            "signed_by": (v.signer or {}).get("common_name") if v else None,
            "issuer": (v.signer or {}).get("issuer") if v else None,
            "run": lineage.get("run_id"),
            "model": lineage.get("model_name"),
            "checkpoint_sha256": lineage.get("checkpoint_sha256"),
            "trained_on": [f"{d['name']} ({', '.join(d['licenses'])})" for d in data.get("datasets", [])],
            "consent": data.get("consent"),
            "latest_audit": lineage.get("latest_audit"),
            "training_mining": v.training_mining if v else None,
            "sigma": lineage.get("sigma"),
            "notes": self.notes,
        }


def verify_files(paths: list[Path], workspace: Workspace | None, extra_trust: list[Path] = ()) -> list[FileReport]:
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise RegistryError(f"no such file: {', '.join(missing)}")
    anchors = trust_anchors(workspace, list(extra_trust))
    return [_verify(Path(path), workspace, anchors) for path in paths]


def _verify(path: Path, workspace: Workspace | None, anchors: list[bytes]) -> FileReport:
    try:
        verification = verify_image(path, anchors)
    except SigningError as exc:
        return FileReport(path, False, f"{NO_MANIFEST}: {exc}")
    report = FileReport(path, verification.ok, verification.reason, verification)
    if workspace is None:
        report.notes.append("no workspace here: not cross-checked against a registry")
        return report
    with workspace.store().reader() as session:
        if verification.reason == NO_MANIFEST:
            pixels = pixel_sha256(path)
            output = session.scalar(
                select(Output).where(Output.pixel_sha256 == pixels, Output.signed.is_(True)).limit(1)
            )
            if output is not None:
                report.reason = RE_ENCODED
                report.notes.append(f"its pixels are those of signed output {output.output_path} (run {output.run_id})")
            return report
        if not verification.ok:
            return report
        _cross_check(session, path, verification, report)
    return report


def _cross_check(session, path: Path, verification: Verification, report: FileReport) -> None:
    lineage = verification.lineage
    digest = sha256_file(path)
    recorded = session.scalar(select(Output).where(Output.output_sha256 == digest).limit(1))
    if recorded is not None:
        report.notes.append(f"recorded as output {recorded.output_path} on {recorded.created_at:%Y-%m-%d %H:%M} UTC")
    run_id = lineage.get("run_id")
    run = session.get(Run, run_id, options=RUN_LOADS) if run_id else None
    if run is None:
        if recorded is None:
            report.ok, report.reason = False, f"{UNKNOWN_RUN}: {run_id!r} is not in this registry"
        else:
            report.notes.append(f"run {run_id} is not in this registry (made with an exported model)")
        return
    final = run.checkpoints[-1].sha256 if run.checkpoints else None
    if final != lineage.get("checkpoint_sha256"):
        report.ok, report.reason = (
            False,
            f"{WRONG_CHECKPOINT}: manifest names {lineage.get('checkpoint_sha256')}, run has {final}",
        )
        return
    report.notes.append(f"run {run.id} and its final checkpoint match the registry")
    if run.audits:
        report.notes.append(f"latest audit of the run now: {run.audits[-1].verdict}")
