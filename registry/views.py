"""Registry records as plain dicts: what `--json` prints and what tables are drawn from."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from registry.consent import ConsentView
from registry.models import Audit, Dataset, Run


def _time(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def dataset_summary(dataset: Dataset, consent: ConsentView) -> dict[str, Any]:
    """`consent` counts the statuses recorded on the rows; `effective_consent` the ones that apply
    (most restrictive over every copy of each picture, which training and evaluation obey)."""
    recorded = Counter(image.consent for image in dataset.images)
    effective = Counter(consent.effective[image.id] for image in dataset.images)
    return {
        "name": dataset.name,
        "images": len(dataset.images),
        "license": dataset.license,
        "source": dataset.source,
        "path": dataset.path,
        "content_hash": dataset.content_hash,
        "dvc_version": dataset.dvc_version,
        "consent": dict(sorted(recorded.items())),
        "effective_consent": dict(sorted(effective.items())),
        "added_by": dataset.added_by,
        "added_at": _time(dataset.added_at),
    }


def dataset_detail(dataset: Dataset, consent: ConsentView) -> dict[str, Any]:
    detail = dataset_summary(dataset, consent) | {"manifest_sha256": dataset.manifest_sha256}
    detail["image_list"] = [
        {
            "image_id": i.image_id,
            "path": i.path,
            "sha256": i.sha256,
            "bytes": i.bytes,
            "width": i.width,
            "height": i.height,
            "mode": i.mode,
            "conversion": i.conversion,
            "license": i.license,
            "attribution": i.attribution,
            "source": i.source,
            "consent": i.consent,
            "effective_consent": consent.effective[i.id],
            "copies": consent.copies[i.id],
            "consent_note": i.consent_note,
            "notes": i.notes,
        }
        | _noisy_file(i)
        for i in dataset.images
    ]
    return detail


def _noisy_file(image) -> dict[str, Any]:
    """A paired image's real noisy file; nothing for the images of unpaired datasets."""
    if image.noisy is None:
        return {}
    noisy = image.noisy
    return {"noisy_file": {"path": noisy.path, "sha256": noisy.sha256, "bytes": noisy.bytes, "mode": noisy.mode}}


def dataset_duplicates(dataset: Dataset, consent: ConsentView) -> list[dict[str, Any]]:
    """The images of `dataset` that show a picture already registered elsewhere."""
    return [
        {
            "image": f"{dataset.name}/{i.image_id}",
            "duplicates": consent.copies[i.id],
            "effective_consent": consent.effective[i.id],
        }
        for i in dataset.images
        if consent.copies[i.id]
    ]


def audit_view(audit: Audit) -> dict[str, Any]:
    return {
        "id": audit.id,
        "verdict": audit.verdict,
        "reason": audit.reason,
        "at": _time(audit.created_at),
        "seconds": round(audit.seconds, 2),
        "notes": audit.notes,
        "differences": audit.differences,
    }


def headline(run: Run, sigma: float = 25.0) -> dict[str, float]:
    """Mean test PSNR/SSIM of the model at one sigma, when evaluated."""
    return {agg.metric: agg.mean for agg in run.aggregates if agg.method == "model" and agg.sigma == sigma}


def run_summary(run: Run, withdrawn: list[str] | None = None) -> dict[str, Any]:
    """`withdrawn`: the run's train/val images whose consent is now withdrawn (registry.impact);
    given, it becomes `withdrawn_training_images` (non-empty: the run's weights depend on them)."""
    latest = run.audits[-1] if run.audits else None
    summary = {
        "id": run.id,
        "name": run.name,
        "status": run.status,
        "created_at": _time(run.created_at),
        "config_hash": run.config_hash,
        "seed": run.seed,
        "train_seconds": run.train_seconds,
        "model_at_sigma_25": headline(run),
        "latest_audit": latest.verdict if latest else None,
    }
    if withdrawn is not None:
        summary["withdrawn_training_images"] = withdrawn
    return summary


def run_detail(run: Run, successors: list[str] | None = None, withdrawn: list[str] | None = None) -> dict[str, Any]:
    """`successors`: ids of the runs that re-train this one without withdrawn images
    (registry.runs.successor_ids); None when the caller did not look them up.
    `withdrawn`: as for run_summary."""
    splits: dict[str, list[dict]] = {}
    for member in run.splits:
        splits.setdefault(member.role, []).append(
            {"image": member.image_key, "path": member.path, "sha256": member.sha256}
        )
    return run_summary(run, withdrawn) | {
        "config": run.config,
        "config_path": run.config_path,
        "family": run.family,
        "successor_of": run.successor_of,  # the run this one re-trains without withdrawn images
        "successors": successors,
        "split_seed": run.split_seed,
        "user": run.user,
        "data_version": run.data_version,
        "data_dvc_sha256": run.data_dvc_sha256,
        "code": run.code,
        "environment": run.environment,
        "excluded": run.excluded,
        "splits": splits,
        "finished_at": _time(run.finished_at),
        "eval_seconds": run.eval_seconds,
        "resumed": run.resumed,
        "error": run.error,
        "evaluation": run.evaluation,
        "cost": run.cost,
        "checkpoints": [
            {"step": c.step, "final": c.final, "sha256": c.sha256, "path": c.path, "state_path": c.state_path}
            for c in run.checkpoints
        ],
        "losses": [{"step": p.step, "split": p.split, "value": p.value} for p in run.losses],
        "aggregates": [
            {"sigma": a.sigma, "method": a.method, "metric": a.metric, "mean": a.mean, "std": a.std, "count": a.count}
            for a in sorted(run.aggregates, key=lambda a: (a.sigma, a.method, a.metric))
        ],
        "metrics": [
            {"image": m.image_key, "sigma": m.sigma, "method": m.method, "metric": m.metric, "value": m.value}
            for m in sorted(run.metrics, key=lambda m: (m.image_key, m.sigma, m.method, m.metric))
        ],
        "audits": [audit_view(a) for a in run.audits],
        "evaluations": [
            {
                "id": e.id,
                "dataset": e.dataset,
                "at": _time(e.created_at),
                "options": e.options,
                "excluded": e.excluded,
                "include_withdrawn": e.include_withdrawn,
                "reason": e.reason,
            }
            for e in run.evaluations
        ],
    }
