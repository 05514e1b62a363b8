"""`registry eval`: a recorded model and the classical baselines on registered datasets.

Every number is recorded (one transaction per evaluation) and written as CSV and JSON
tables keyed by image id. A paired dataset (every image with a real noisy file) is scored
on its noisy files as they are, with no synthetic noise: blind unless sigmas are given.
Images whose consent is withdrawn (on any copy of their
picture: registry.consent) are left out unless `include_withdrawn` is given with a
reason, and either way the evaluation records it.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from denoiser import cost
from denoiser.config import ConfigError, EvalConfig, config_from_dict
from denoiser.evaluation import Evaluation as Result
from denoiser.evaluation import MetricRow, aggregate, evaluate, evaluate_real
from registry.artifacts import load_verified_image
from registry.consent import withdrawals
from registry.datasets import get_dataset
from registry.db import utcnow
from registry.environment import current_user
from registry.errors import NotFoundError, RegistryError
from registry.models import Evaluation, Image, Metric, Run, RunMetric
from registry.reporting import Reporter
from registry.run_models import load_run_model
from registry.runs import get_run, split_files
from registry.workspace import Workspace

TEST_SPLIT = "test split"


@dataclass
class EvalRequest:
    datasets: list[str]  # empty: the run's own test split
    overrides: dict  # EvalConfig fields to change from the run's config.eval
    include_withdrawn: bool = False
    reason: str = ""
    out: Path | None = None  # where CSV/JSON tables go; default .registry/evaluations/<id>


def real_noise_details(options: EvalConfig, given: list[float] | None) -> dict[str, str]:
    """What an evaluation on real noisy files records beside its rows (tables say "real noise")."""
    return {"noise": "real", "conditioning": "given sigma" if given else f"blind ({options.estimator})"}


def evaluate_run(
    workspace: Workspace, run_ref: str, request: EvalRequest, reporter: Reporter | None = None
) -> list[int]:
    """Evaluate a finished run on each requested dataset; returns the evaluation ids.

    Every image is loaded and hash-checked before any work, and all evaluations of one
    call are recorded in one transaction.
    """
    reporter = reporter or Reporter()
    if request.include_withdrawn and not request.reason.strip():
        raise RegistryError("--include-withdrawn needs --reason: why is using withdrawn images justified here?")
    store = workspace.store()
    with store.reader() as session:
        run = get_run(session, run_ref)
        options = _options(run.config, request.overrides)
        planned = _plan(session, run, request)
        seen = {dataset: _seen_in_training(session, run, dataset) for dataset, *_ in planned}
    config, model, _ = load_run_model(workspace, run)
    channels = config.model.channels
    sources = []
    for dataset, members, excluded, noisy_files in planned:
        if not members:
            raise RegistryError(f"{dataset}: no images left to evaluate")
        if excluded:
            names = ", ".join(e["image"] for e in excluded)
            reporter.warn(f"{dataset}: leaving out {len(excluded)} image(s) whose consent is withdrawn: {names}")
        evaluated = {key for key, _, _ in members}
        seen[dataset] = {key: role for key, role in seen[dataset].items() if key in evaluated}
        if seen[dataset]:
            reporter.warn(
                f"{dataset}: {len(seen[dataset])} of {len(members)} images are pictures run {run.id} trained or "
                f"validated on ({', '.join(sorted(seen[dataset]))}): their scores test memory, not denoising of "
                "new photos (marked seen_in_training in the tables)"
            )
        images = {key: load_verified_image(workspace, key, path, sha, channels) for key, path, sha in members}
        noisy = {
            key: load_verified_image(workspace, f"{key} (noisy file)", path, sha, channels)
            for key, (path, sha) in noisy_files.items()
            if key in images
        }
        sources.append((dataset, images, noisy, excluded))
    val_images = [load_verified_image(workspace, *member, channels) for member in split_files(run)["val"]]
    if request.out is not None:
        _writable(request.out)

    records = []
    given = request.overrides.get("sigmas")  # real noise: blind unless the user names sigmas
    for dataset, images, noisy, excluded in sources:
        started = time.perf_counter()
        if noisy:
            told = f"sigma {given}" if given else f"sigma estimated by {options.estimator}"
            reporter.info(f"evaluating run {run.id} on {dataset}: {len(images)} real noisy images, {told}")
            pairs = {key: (clean, noisy[key]) for key, clean in images.items()}
            with reporter.progress(f"scoring {dataset}", len(pairs)) as update:
                result = evaluate_real(model, options, config.train.seed, pairs, val_images, given, done=update)
            real = real_noise_details(options, given)
        else:
            reporter.info(f"evaluating run {run.id} on {dataset}: {len(images)} images, sigma {options.sigmas}")
            with reporter.progress(f"scoring {dataset}", len(images)) as update:
                result = evaluate(model, options, config.train.seed, images, val_images, done=update)
            real = {}
        sizes = {key: image.shape[:2] for key, image in images.items()}
        record = Evaluation(
            run_id=run.id,
            dataset=dataset,
            options=dataclasses.asdict(options),
            include_withdrawn=request.include_withdrawn,
            reason=request.reason if request.include_withdrawn else "",
            excluded=excluded,
            details=evaluation_details(result, sizes) | real | {"seen_in_training": seen[dataset]},
            cost=size_costs(model, set(sizes.values())),
            user=current_user(workspace.root),
            seconds=time.perf_counter() - started,
            created_at=utcnow(),
        )
        records.append((record, result))
    with store.transaction() as session:
        for record, result in records:
            session.add(record)
            session.flush()
            session.add_all(Metric(run_id=run.id, evaluation_id=record.id, **metric_fields(row)) for row in result.rows)
            session.add_all(RunMetric(run_id=run.id, evaluation_id=record.id, **agg) for agg in aggregate(result.rows))
    for record, result in records:
        folder = workspace.registry_dir / "evaluations" / str(record.id)
        if request.out is not None:
            folder = request.out / record.dataset if len(records) > 1 else request.out
        write_tables(folder, result, record.details)
        reporter.info(f"{record.dataset}: tables written to {folder} (per_image.csv, per_image.json, summary.json)")
    return [record.id for record, _ in records]


def _plan(session, run: Run, request: EvalRequest) -> list[tuple[str, list[tuple[str, str, str]], list[dict], dict]]:
    """(dataset, [(key, path, sha256)], excluded, {key: (noisy path, sha256)}) per requested dataset, or the
    test split (its noise as in training: synthetic, or the real noisy files of a run trained on pairs)."""
    if request.datasets:
        return [_dataset_images(session, name, request.include_withdrawn) for name in request.datasets]
    test = split_files(run)["test"]
    pks = {m.image_key: m.image_pk for m in run.splits}
    images = session.scalars(select(Image).where(Image.id.in_(pks.values()))).all()
    reasons = withdrawals(session, images, with_note=False)
    members, excluded = [], []
    for key, path, sha in test:
        if pks[key] in reasons and not request.include_withdrawn:
            excluded.append({"image": key, "reason": f"{reasons[pks[key]]} since training"})
        else:
            members.append((key, path, sha))
    noisy = {}
    if run.config["noise"]["kind"] == "pairs":
        by_pk = {image.id: image for image in images}
        noisy = {key: (by_pk[pks[key]].noisy.path, by_pk[pks[key]].noisy.sha256) for key, _, _ in members}
    return [(TEST_SPLIT, members, excluded, noisy)]


def _seen_in_training(session, run: Run, dataset: str) -> dict[str, str]:
    """The images of `dataset` whose picture (content hash, so a copy counts) the run trained or
    validated on: image key -> role. The run's own test split has none by construction."""
    if dataset == TEST_SPLIT:
        return {}
    roles = {member.image_pk: member.role for member in run.splits if member.role in ("train", "val")}
    used = session.scalars(select(Image).where(Image.id.in_(roles))).all()
    picture_roles = {image.content_sha256 or image.sha256: roles[image.id] for image in used}
    candidates = get_dataset(session, dataset).images
    return {
        f"{dataset}/{image.image_id}": picture_roles[image.content_sha256 or image.sha256]
        for image in candidates
        if (image.content_sha256 or image.sha256) in picture_roles
    }


def _writable(folder: Path) -> None:
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RegistryError(f"--out {folder}: {exc.strerror or exc}") from None


def show_evaluations(workspace: Workspace, ids: list[int]) -> list[Evaluation]:
    with workspace.store().reader() as session:
        query = select(Evaluation).where(Evaluation.id.in_(ids)).options(selectinload(Evaluation.metrics))
        found = {e.id: e for e in session.scalars(query)}
    return [found[i] for i in ids]


def _options(run_config: dict, overrides: dict) -> EvalConfig:
    try:
        return config_from_dict(run_config | {"eval": run_config["eval"] | overrides}).eval
    except ConfigError as exc:
        raise RegistryError(str(exc)) from None


def _dataset_images(session, name: str, include_withdrawn: bool):
    try:
        dataset = get_dataset(session, name)
    except NotFoundError as exc:
        raise RegistryError(f"--dataset: {exc} (see `registry data list`)") from None
    paired = [image for image in dataset.images if image.noisy]
    if paired and len(paired) != len(dataset.images):
        lone = next(image.image_id for image in dataset.images if not image.noisy)
        raise RegistryError(f"--dataset {name}: {len(paired)} images have a noisy_file but {lone} has none")
    reasons = withdrawals(session, dataset.images, with_note=False)
    members, excluded = [], []
    for image in dataset.images:
        key = f"{name}/{image.image_id}"
        if image.id in reasons and not include_withdrawn:
            excluded.append({"image": key, "reason": reasons[image.id]})
        else:
            members.append((key, image.path, image.sha256))
    noisy = {f"{name}/{image.image_id}": (image.noisy.path, image.noisy.sha256) for image in paired}
    return name, members, excluded, noisy


def size_costs(model, shapes: set[tuple[int, int]]) -> dict[str, dict[str, float]]:
    """FLOPs and peak memory of the model per image size (computed once per size)."""
    return {
        f"{h}x{w}": {"gflops": cost.flops(model, h, w) / 1e9, "peak_memory_mb": cost.peak_memory(model, h, w) / 2**20}
        for h, w in sorted(shapes)
    }


def evaluation_details(result: Result, sizes: dict[str, tuple[int, int]]) -> dict:
    return {
        "unavailable": result.unavailable,
        "baseline_settings": result.baseline_settings,
        "sigma_used": result.sigma_used,
        "median_ms": {
            method: {image: 1000 * float(np.median(times)) for image, times in per_image.items()}
            for method, per_image in result.seconds.items()
        },
        "image_sizes": {key: f"{h}x{w}" for key, (h, w) in sizes.items()},
    }


def metric_fields(row: MetricRow) -> dict:
    return {"image_key": row.image, "sigma": row.sigma, "method": row.method, "metric": row.metric, "value": row.value}


def write_tables(folder: Path, result: Result, details: dict) -> Path:
    """per_image.csv / per_image.json (one row per image, sigma and method) and summary.json."""
    folder.mkdir(parents=True, exist_ok=True)
    table: dict[tuple, dict] = {}
    for row in result.rows:
        entry = table.setdefault(
            (row.image, row.sigma, row.method),
            {"image": row.image, "sigma": row.sigma, "method": row.method, "psnr": None, "ssim": None, "lpips": None},
        )
        entry[row.metric] = row.value
    rows = sorted(table.values(), key=lambda r: (r["image"], r["sigma"], r["method"]))
    seen = details.get("seen_in_training") or {}
    for entry in rows:
        entry["time_ms"] = details["median_ms"].get(entry["method"], {}).get(entry["image"])
        entry["seen_in_training"] = seen.get(entry["image"], "")  # train / val: not a test of new photos
    with open(folder / "per_image.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (folder / "per_image.json").write_text(json.dumps(rows, indent=1))
    (folder / "summary.json").write_text(json.dumps({"aggregates": aggregate(result.rows), **details}, indent=1))
    return folder
