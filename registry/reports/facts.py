"""The report as data: every section drawn from registry records, nothing recomputed
except what the issue asks to recompute (image grids, see grids.py).

The JSON format carries a schema version; renderers read only this structure.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from registry.data_summary import is_research_only, training_data
from registry.environment import code_version
from registry.impact import WEIGHT_ROLES, affected_runs
from registry.lineage import run_lineage
from registry.model_card import NOISE_NAMES
from registry.models import Image, Output, Run
from registry.runs import RUN_LOADS, get_run
from registry.tables import EvalView, methods_table, table1, table2, table3, table4
from registry.views import audit_view, run_detail
from registry.vocabulary import DEFAULT_POWER_WATTS

SCHEMA_VERSION = 1
TABLE_SIGMA = 25.0


def report_facts(session: Session, run_refs: list[str], power_watts: float = DEFAULT_POWER_WATTS) -> dict[str, Any]:
    runs = [get_run(session, ref) for ref in run_refs]
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "generated_by": {"software": "provenoise", "version": code_version()["package_version"]},
        "runs": [run_facts(session, run, power_watts) for run in runs],
        "successions": successions(runs),
        "comparison_caveat": comparison_caveat(runs),
    }


def comparison_caveat(runs: list[Run]) -> str | None:
    """Said beside a side-by-side table whose runs were tested on different images (their test
    PSNRs then measure different things); None when every run's test split is the same."""
    if len(runs) < 2:
        return None
    tested = [frozenset(member.sha256 for member in run.splits if member.role == "test") for run in runs]
    if len(set(tested)) == 1:
        return None
    common = frozenset.intersection(*tested)
    sizes = ", ".join(f"{run.id}: {len(images)}" for run, images in zip(runs, tested))
    return (
        f"These runs were tested on different images (test images per run: {sizes}; {len(common)} in common), "
        "so their test-split figures are not directly comparable: score them on one dataset with "
        "`registry eval RUN --dataset NAME` and compare those."
    )


def run_facts(session: Session, run: Run, power_watts: float) -> dict[str, Any]:
    withdrawn = affected_runs(session, [run.id]).get(run.id, [])
    detail = run_detail(run, withdrawn=withdrawn)
    data = training_data(session, run)
    view = EvalView.of_run(run)
    sigma = TABLE_SIGMA if TABLE_SIGMA in view.sigmas else (view.sigmas[0] if view.sigmas else TABLE_SIGMA)
    return {
        "summary": _summary(session, run, detail),
        "data": _data(session, run, data),
        "method": _method(run, detail),
        "attribution": _attribution(session, run),
        "results": _results(session, run, view, sigma),
        "compute": _compute(run, power_watts),
        "provenance": _provenance(session, run),
        "lineage": run_lineage(session, run),
        "limitations": _limitations(run, data, view, withdrawn),
    }


def _summary(session: Session, run: Run, detail: dict) -> dict[str, Any]:
    latest = audit_view(run.audits[-1]) if run.audits else None
    return {
        "successor_of": run.successor_of,
        # Train/val images whose consent is now withdrawn: the weights depend on them (registry.impact).
        "withdrawn_training_images": detail["withdrawn_training_images"],
        "run": run.id,
        "name": run.name,
        "description": run.config.get("description") or "",
        "purpose": _purpose(run.config["noise"]),
        "status": run.status,
        "created_at": detail["created_at"],
        "finished_at": detail["finished_at"],
        "ran_by": run.user,
        "family": run.family,
        "latest_audit": latest and {k: latest[k] for k in ("verdict", "reason", "at")},
        "signing_identities": _signers(session, run),
    }


def _purpose(noise: dict) -> str:
    purpose = f"denoising grayscale images corrupted by {NOISE_NAMES.get(noise['kind'], noise['kind'])} noise"
    if noise["kind"] == "awgn":
        purpose += f", sigma {noise['sigma_min']:g}-{noise['sigma_max']:g} (8-bit scale)"
    return purpose


def _data(session: Session, run: Run, data: dict) -> dict[str, Any]:
    splits = {}
    for member in run.splits:
        split = splits.setdefault(member.role, {"seed": run.split_seed, "count": 0, "images": []})
        split["count"] += 1
        split["images"].append(member.image_key)
    return {
        "datasets": data["datasets"],
        "licenses": data["licenses"],
        "research_only": data["research_only"],
        "consent": data["consent"],
        "left_out": run.excluded,
        "withdrawn_since_training": data["withdrawn_since_training"],
        "splits": splits,
        "data_version": run.data_version,
    }


def _method(run: Run, detail: dict) -> dict[str, Any]:
    config = run.config
    cost = run.cost or {}
    return {
        "architecture": config["model"],
        "parameters": cost.get("parameters"),
        "gflops_per_megapixel": cost.get("gflops_per_megapixel"),
        "noise": config["noise"],
        "optimizer": config["optim"],
        "training": config["train"],
        "data_pipeline": {k: v for k, v in config["data"].items() if k != "datasets"},
        "evaluation": config["eval"],
        "seeds": {"training": run.seed, "split": run.split_seed},
        "config_sha256": run.config_hash,
        "code": run.code,
        "environment": {k: v for k, v in run.environment.items() if k != "cpu_flags"},
        "loss_curve": detail["losses"],
    }


def _attribution(session: Session, run: Run) -> list[dict[str, Any]]:
    """Creators and sources of the training images, grouped as the manifests give them."""
    train_pks = [m.image_pk for m in run.splits if m.role == "train"]
    images = session.scalars(select(Image).where(Image.id.in_(train_pks)).options(selectinload(Image.dataset))).all()
    groups: Counter[tuple[str, str, str, str]] = Counter(
        (i.dataset.name, i.attribution or "unknown", i.source or "unknown", i.license) for i in images
    )
    return [
        {"dataset": d, "attribution": a, "source": s, "license": lic, "images": n}
        for (d, a, s, lic), n in sorted(groups.items())
    ]


def _results(session: Session, run: Run, view: EvalView, sigma: float) -> dict[str, Any]:
    evaluations = [EvalView.of_evaluation(e) for e in run.evaluations if e.dataset != "test split"]
    siblings = _siblings(session, run)
    return {
        "table_sigma": sigma,
        "test_split": {
            "methods": methods_table(view),
            "table1": table1(view, sigma) if view.values else [],
            "table2": table2(view),
            "per_image": [
                {"image": i, "sigma": s, "method": m, "metric": k, "value": v}
                for (i, s, m, k), v in sorted(view.values.items())
            ],
            "left_out": view.excluded,
        },
        "evaluations": [
            {
                "dataset": e.dataset,
                "note": e.note,
                "left_out": e.excluded,
                "methods": methods_table(e),
                "table2": table2(e),
            }
            for e in evaluations
        ],
        "table3": table3(evaluations) if evaluations else [],
        "table4": table4(siblings, sigma) if len(siblings) > 1 else [],
        "unavailable": view.unavailable,
    }


def _siblings(session: Session, run: Run) -> list[Run]:
    if not run.family:
        return []
    query = select(Run).where(Run.family == run.family).order_by(Run.created_at).options(*RUN_LOADS)
    return [r for r in session.scalars(query) if r.status == "finished"]


def _compute(run: Run, power_watts: float) -> dict[str, Any]:
    cost = run.cost or {}
    train_hours = (run.train_seconds or 0.0) / 3600
    return {
        "train_seconds": run.train_seconds,
        "eval_seconds": run.eval_seconds,
        "parameters": cost.get("parameters"),
        "gflops_per_megapixel": cost.get("gflops_per_megapixel"),
        "threads": cost.get("threads"),
        "inference_ms": cost.get("inference_ms", {}),
        "peak_memory_mb": cost.get("peak_memory_mb", {}),
        "cpu": run.environment.get("cpu_model"),
        "energy": {
            "assumed_power_watts": power_watts,
            "training_kwh": train_hours * power_watts / 1000,
            "note": f"training time x {power_watts:g} W, a stated assumption, not a measurement",
        },
    }


def _signers(session: Session, run: Run) -> list[dict[str, str]]:
    outputs = session.scalars(select(Output).where(Output.run_id == run.id, Output.signed.is_(True))).all()
    seen = {}
    for output in outputs:
        signer = (output.manifest or {}).get("signer") or {}
        if signer.get("sha256_fingerprint"):
            seen[signer["sha256_fingerprint"]] = signer
    return list(seen.values())


def _provenance(session: Session, run: Run) -> dict[str, Any]:
    outputs = session.scalars(select(Output).where(Output.run_id == run.id)).all()
    return {
        "outputs": len(outputs),
        "signed_outputs": sum(1 for o in outputs if o.signed),
        "certificates": _signers(session, run),
        "how_to_verify": "registry verify FILE (add --trust CA.pem for a CA this workspace does not know); "
        "any C2PA reader shows the manifest, e.g. the org.provenoise.lineage assertion",
    }


def _limitations(run: Run, data: dict, view: EvalView, withdrawn: list[str]) -> list[str]:
    notes = []
    research = [lic for lic in data["licenses"] if is_research_only(lic)]
    if research:
        notes.append(
            f"Trained on images licensed for non-commercial research only ({', '.join(research)}): "
            "the model and its outputs are not for commercial use."
        )
    if run.excluded:
        notes.append(
            f"Left out of training because consent was withdrawn: {', '.join(e['image'] for e in run.excluded)}."
        )
    if withdrawn:
        notes.append(
            f"This model is affected by a withdrawal: its weights depend on images whose consent was withdrawn "
            f"after training ({', '.join(withdrawn)}). New signed outputs declare training and mining not "
            f"allowed; retrain without them (`registry train --successor {run.id}`) and retire this model."
        )
    tested = [key for key in data["withdrawn_since_training"] if key not in withdrawn]
    if tested:
        notes.append(
            f"Its test metrics include images whose consent was withdrawn after training ({', '.join(tested)}); "
            "its weights do not depend on them."
        )
    for metric, reason in view.unavailable.items():
        notes.append(f"{metric.upper()} is unavailable: {reason}.")
    notes.append(
        f"Made for synthetic {NOISE_NAMES.get(run.config['noise']['kind'])} noise on grayscale images; "
        "real sensor noise, colour "
        "and noise outside the training range were not evaluated unless a table above says so."
    )
    if not run.audits:
        notes.append("This run has not been audited: its reproducibility is unproven.")
    elif run.audits[-1].verdict not in ("IDENTICAL", "EQUIVALENT"):
        notes.append(f"The latest audit did not pass ({run.audits[-1].verdict}): {run.audits[-1].reason}.")
    return notes


def successions(runs: list[Run]) -> list[dict[str, Any]]:
    """For each run here that succeeds another run here (`runs.successor_of`): what changed."""
    by_id = {run.id: run for run in runs}
    return [_succession(by_id[run.successor_of], run) for run in runs if run.successor_of in by_id]


def _succession(old: Run, new: Run) -> dict[str, Any]:
    def images(run: Run, roles: tuple[str, ...]) -> set[str]:
        return {m.image_key for m in run.splits if m.role in roles}

    trained_old, trained_new = images(old, WEIGHT_ROLES), images(new, WEIGHT_ROLES)
    tested_old, tested_new = images(old, ("test",)), images(new, ("test",))
    common = tested_old & tested_new
    same = tested_old == tested_new
    reasons = {e.get("image"): e.get("reason", "") for e in new.excluded or [] if isinstance(e, dict)}
    # An image that is not left out can still leave training: the split of fewer images moves it.
    reasons = {
        key: reasons.get(key) or ("moved to the test split" if key in tested_new else "not used")
        for key in trained_old - trained_new
    }
    before, after = _model_means(old), _model_means(new)
    quality = []
    for sigma in sorted({s for s, _ in before} | {s for s, _ in after}):
        row: dict[str, Any] = {"sigma": sigma}
        for metric in ("psnr", "ssim"):
            a, b = before.get((sigma, metric)), after.get((sigma, metric))
            row |= {f"{metric}_old": a, f"{metric}_new": b, f"{metric}_delta": b - a if None not in (a, b) else None}
            if not same:
                row[f"{metric}_delta_common"] = _common_delta(old, new, common, sigma, metric)
        quality.append(row)
    caveat = None
    if not same:
        caveat = (
            f"The test sets differ (test images: {len(tested_old)} for {old.id}, {len(tested_new)} for {new.id}, "
            f"{len(common)} in common): each run's own deltas mix the change of model with the change of test images"
            + (f"; the deltas on the {len(common)} common images compare the models alone." if common else ".")
        )
    return {
        "old": old.id,
        "new": new.id,
        "removed_images": [{"image": key, "reason": reasons[key]} for key in sorted(reasons)],
        "added_images": sorted(trained_new - trained_old),
        "test_images": {"old": len(tested_old), "new": len(tested_new), "common": len(common)},
        "same_test_set": same,
        "quality": quality,
        "caveat": caveat,
    }


def _model_means(run: Run) -> dict[tuple[float, str], float]:
    """(sigma, metric) -> the model's mean over the run's test split."""
    return {(a.sigma, a.metric): a.mean for a in run.aggregates if a.method == "model"}


def _common_delta(old: Run, new: Run, common: set[str], sigma: float, metric: str) -> float | None:
    """NEW's mean minus OLD's over the test images both runs scored at this sigma."""

    def values(run: Run) -> dict[str, float]:
        return {
            m.image_key: m.value
            for m in run.metrics
            if m.method == "model" and m.metric == metric and m.sigma == sigma and m.image_key in common
        }

    a, b = values(old), values(new)
    shared = sorted(set(a) & set(b))
    if not shared:
        return None
    return sum(b[key] for key in shared) / len(shared) - sum(a[key] for key in shared) / len(shared)
