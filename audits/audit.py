"""`registry audit RUN`: integrity first, then re-execution, comparison and a verdict.

Verdicts:
- IDENTICAL: every checkpoint and every metric is bitwise equal to the record.
- EQUIVALENT: the environment or code differs from the record, and every difference is
  within the run's recorded tolerances.
- DIVERGED: names the first difference outside tolerance (or any difference at all
  when environment and code are the same as recorded).
- INTEGRITY_FAILED: a recorded file or the recorded config no longer has its hash.
The audit is recorded in the registry whatever the verdict.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from audits.compare import Difference, compare_checkpoints, compare_metrics
from audits.integrity import check_integrity
from audits.reexecute import reexecute
from audits.replay import SPEC_VERSION
from registry.db import utcnow
from registry.environment import code_version, current_user, environment, environment_differences
from registry.errors import RegistryError
from registry.models import Audit
from registry.reporting import Reporter
from registry.runs import get_run
from registry.workspace import Workspace

PASSING = ("IDENTICAL", "EQUIVALENT")


@dataclass
class AuditResult:
    run_id: str
    verdict: str
    reason: str
    differences: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    audit_id: int | None = None

    @property
    def passed(self) -> bool:
        return self.verdict in PASSING


def audit_run(workspace: Workspace, run_ref: str, reporter: Reporter | None = None) -> AuditResult:
    reporter = reporter or Reporter()
    started = time.perf_counter()
    store = workspace.store()
    with store.reader() as session:
        run = get_run(session, run_ref)
    if run.status != "finished":
        raise RegistryError(f"run {run.id} is {run.status}; only finished runs can be audited (resume it first)")

    reporter.info(f"checking the integrity of run {run.id}")
    integrity = check_integrity(workspace, run)
    notes = list(integrity.notes)
    current_code = code_version()
    current_env = environment(run.config.get("train", {}).get("threads", 0))
    if not integrity.ok:
        first = integrity.failures[0]
        result = AuditResult(
            run.id,
            "INTEGRITY_FAILED",
            f"{first['file']}: expected sha256 {first['expected']}, found {first['actual']}",
            differences=integrity.failures,
            notes=notes,
        )
    else:
        reporter.info(f"re-executing run {run.id} from its record in a temporary folder")
        with reexecute(workspace, run) as execution:
            notes += execution.notes
            result = _judge(workspace, run, execution, notes)
            current_code = execution.output.get("code", current_code)
            current_env = execution.output.get("environment", current_env)
    result.seconds = time.perf_counter() - started
    with store.transaction() as session:
        audit = Audit(
            run_id=run.id,
            verdict=result.verdict,
            reason=result.reason,
            differences=result.differences,
            notes=result.notes,
            environment=current_env,
            code=current_code,
            user=current_user(workspace.root),
            seconds=result.seconds,
            created_at=utcnow(),
        )
        session.add(audit)
        session.flush()
        result.audit_id = audit.id
    return result


def _judge(workspace, run, execution, notes: list[str]) -> AuditResult:
    output = execution.output
    if "error" in output:
        return AuditResult(run.id, "DIVERGED", f"the re-execution failed: {output['error']}", notes=notes)
    if output.get("spec_version") != SPEC_VERSION:
        notes.append(
            f"the re-executing code speaks replay format {output.get('spec_version')}, this audit {SPEC_VERSION}"
        )

    env_notes = environment_differences(run.environment, output["environment"])
    notes += [f"environment differs: {n}" for n in env_notes]
    code_differs = output["code"].get("source_sha256") != run.code.get("source_sha256")
    skipped = _unavailable_on_one_side(run, output)
    if skipped:
        notes.append(f"not compared, unavailable on one side: {', '.join(sorted(skipped))}")

    differences: list[Difference] = compare_checkpoints(workspace, run, output, execution.workdir)
    differences += compare_metrics(run, output, skip=skipped)
    verdict, reason = decide(differences, env_notes, code_differs)
    recorded = [asdict(d) | {"description": d.describe()} for d in differences]
    return AuditResult(run.id, verdict, reason, recorded, notes)


def decide(differences: list[Difference], env_notes: list[str], code_differs: bool) -> tuple[str, str]:
    """The verdict and its one-line reason, from the differences a re-execution showed."""
    if not differences:
        return "IDENTICAL", _with_caveats("every checkpoint and metric is bitwise identical", env_notes, code_differs)
    if not (env_notes or code_differs):
        # Same code, same environment: any difference at all is a divergence.
        return "DIVERGED", f"first difference: {differences[0].describe()}"
    outside = [d for d in differences if not d.within_tolerance]
    if not outside:
        reason = f"{len(differences)} value(s) differ bitwise, all within the recorded tolerance"
        return "EQUIVALENT", _with_caveats(reason, env_notes, code_differs)
    return "DIVERGED", _with_caveats(
        f"first difference beyond tolerance: {outside[0].describe()}", env_notes, code_differs
    )


def _with_caveats(reason: str, env_notes: list[str], code_differs: bool) -> str:
    caveats = (["the code differs from the recorded version"] if code_differs else []) + (
        [f"the environment differs ({len(env_notes)} item(s))"] if env_notes else []
    )
    return reason + (f"; {' and '.join(caveats)}" if caveats else "")


def _unavailable_on_one_side(run, output: dict) -> set[str]:
    """Metrics or baselines unavailable on one side only (LPIPS weights, the bm3d package) are not compared."""
    recorded = set((run.evaluation or {}).get("unavailable") or {})
    replayed = set(output.get("unavailable") or {})
    return recorded ^ replayed
