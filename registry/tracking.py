"""Tracked training: resolve data, record the run, train, evaluate, record the results.

Transactions follow the run's life: one to create the run with its split and
provenance; one per checkpoint (weights file, state file and the loss points since the
previous checkpoint); one at the end for the whole metric table and the finished status.
A failure anywhere marks the run failed (interrupted on Ctrl-C) and writes no metrics,
and `resume_run` continues it from its last checkpoint to the same final bytes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from denoiser import cost
from denoiser.config import ConfigError, ExperimentConfig, load_config
from denoiser.evaluation import Evaluation, aggregate, evaluate_split
from denoiser.networks import build_network
from denoiser.splits import SplitError, make_split
from denoiser.training import Checkpoint as TrainedCheckpoint
from denoiser.training import DataError, TrainingHooks, check_images, train
from registry import dvc
from registry.artifacts import load_verified_image, read_verified, store_state, store_weights
from registry.consent import copy_groups, withdrawals
from registry.datasets import get_dataset
from registry.db import Store, utcnow
from registry.environment import code_version, current_user, environment, environment_differences
from registry.errors import NotFoundError, RegistryError
from registry.evaluations import evaluation_details, metric_fields, real_noise_details, size_costs
from registry.impact import affected_runs
from registry.ledger.heads import sign_head
from registry.models import Checkpoint, Image, LossPoint, Metric, Run, RunMetric, SplitImage
from registry.pairs import NoisyMembers, noisy_members, recorded_noisy_members
from registry.reporting import Reporter
from registry.run_locks import Heartbeat, Hold, holds, refuse_live_owner, release, settle_abandoned, take
from registry.runs import ROLES, get_run, recorded_config, split_files
from registry.signing_keys import folder_credentials
from registry.workspace import Workspace


@dataclass
class SplitData:
    """The images of one run, loaded and keyed by dataset/image_id, in split order."""

    train: dict[str, np.ndarray]
    val: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    noisy: dict[str, dict[str, np.ndarray]] | None = None  # noise.kind pairs: role -> key -> real noisy file

    def noisy_list(self, role: str) -> list[np.ndarray] | None:
        return None if self.noisy is None else list(self.noisy[role].values())


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def train_run(
    workspace: Workspace,
    config_path: Path,
    overrides: Sequence[str] = (),
    strict: bool = False,
    reporter: Reporter | None = None,
    hooks: TrainingHooks | None = None,
    family: str | None = None,
) -> str:
    """Validate, record and run a training experiment; returns the run id.

    Everything that can be wrong with the input is checked before the run is recorded.
    """
    reporter = reporter or Reporter()
    try:
        config = load_config(config_path, list(overrides))
    except ConfigError as exc:
        raise RegistryError(str(exc)) from None
    store = workspace.store()
    split, excluded = _plan_split(store, config, strict, reporter)
    data = _load_planned(workspace, config, split)
    try:
        build_network(config.model)  # an architecture that cannot be built fails here, unrecorded
    except ValueError as exc:
        raise RegistryError(str(exc)) from None

    hold = _record_run(workspace, store, config, config_path, split, excluded, family)
    reporter.info(f"run {hold.run_id}: " + " / ".join(f"{len(split[role])} {role}" for role in ROLES) + " images")
    _execute(workspace, store, hold, config, data, reporter, hooks, resume=None)
    return hold.run_id


def _plan_split(
    store: Store, config: ExperimentConfig, strict: bool, reporter: Reporter
) -> tuple[dict[str, list[tuple[str, Image]]], list[dict]]:
    """role -> [(key, image)] from the split seed, leaving out withdrawn consent.

    Consent is the effective one: an image is left out when any copy of its picture, in
    any dataset, is withdrawn (registry.consent).
    """
    with store.reader() as session:
        candidates = _candidates(session, config)
        reasons = withdrawals(session, candidates.values())
    excluded = [{"image": key, "reason": reasons[image.id]} for key, image in candidates.items() if image.id in reasons]
    if excluded:
        names = ", ".join(e["image"] for e in excluded)
        if strict:
            raise RegistryError(f"--strict: consent is withdrawn for {names}")
        reporter.warn(f"leaving out {len(excluded)} image(s) whose consent is withdrawn: {names}")
    usable = {key: image for key, image in candidates.items() if image.id not in reasons}
    with store.reader() as session:
        repeated = _repeated_pictures(session, usable)
    if repeated:
        reporter.warn(f"using {len(repeated)} picture(s) once that appear under several ids: " + ", ".join(repeated))
        excluded += [{"image": key, "reason": f"same picture as {kept}"} for key, kept in repeated.items()]
        usable = {key: image for key, image in usable.items() if key not in repeated}
    try:
        keys = make_split(list(usable), config.data.split, config.data.split_seed)
    except SplitError as exc:
        raise RegistryError(str(exc)) from None
    return {role: [(key, usable[key]) for key in keys[role]] for role in ROLES}, excluded


def _refuse_withdrawn_training_images(store: Store, run: Run) -> None:
    """Resuming would go on learning from a picture whose consent was withdrawn since the run began."""
    with store.reader() as session:
        members = [m for m in run.splits if m.role in ("train", "val")]
        images = session.scalars(select(Image).where(Image.id.in_([m.image_pk for m in members]))).all()
        withdrawn = withdrawals(session, images)
        keys = sorted(m.image_key for m in members if m.image_pk in withdrawn)
    if keys:
        raise RegistryError(
            f"run {run.id} cannot be resumed: consent was withdrawn for {', '.join(keys)} since it began; "
            "train a new run, which leaves those images out"
        )


def _repeated_pictures(session, usable: dict[str, Image]) -> dict[str, str]:
    """key -> the key kept in its place (the first in the config's order), for every further copy.

    One picture in two datasets of one config would otherwise be trained on twice, or land
    in training and test at once.
    """
    by_pk = {image.id: key for key, image in usable.items()}
    order = {key: position for position, key in enumerate(usable)}  # the config's dataset order
    repeated = {}
    for pk, group in copy_groups(session, usable.values()).items():
        first = min((by_pk[member.id] for member in group if member.id in by_pk), key=order.__getitem__)
        if by_pk[pk] != first:
            repeated[by_pk[pk]] = first
    return dict(sorted(repeated.items()))


def _record_run(
    workspace: Workspace,
    store: Store,
    config: ExperimentConfig,
    config_path: Path,
    split: dict[str, list[tuple[str, Image]]],
    excluded: list[dict],
    family: str | None,
    successor_of: str | None = None,
) -> Hold:
    """One transaction: the run with its provenance, its split image by image, and its lock."""
    run_id = new_run_id()
    version, dvc_sha = dvc.data_version(workspace.root)
    with store.transaction() as session:
        session.add(
            Run(
                id=run_id,
                name=config.name,
                status="running",
                config=config.to_dict(),
                config_hash=config.digest(),
                config_path=str(config_path),
                family=family,
                successor_of=successor_of,
                seed=config.train.seed,
                split_seed=config.data.split_seed,
                user=current_user(workspace.root),
                data_version=version,
                data_dvc_sha256=dvc_sha,
                code=code_version(),
                environment=environment(config.train.threads),
                excluded=excluded,
                created_at=utcnow(),
            )
        )
        for role, members in split.items():
            for position, (key, image) in enumerate(members):
                session.add(
                    SplitImage(
                        run_id=run_id,
                        role=role,
                        position=position,
                        image_pk=image.id,
                        image_key=key,
                        path=image.path,
                        sha256=image.sha256,
                    )
                )
        session.flush()
        hold = take(session, run_id)
    return hold


def resume_run(
    workspace: Workspace, run_ref: str, reporter: Reporter | None = None, hooks: TrainingHooks | None = None
) -> str:
    """Continue a failed or interrupted run from its last checkpoint; returns its id."""
    reporter = reporter or Reporter()
    store = workspace.store()
    settle_abandoned(store)  # a trainer killed without a word leaves its run `running`
    with store.reader() as session:
        run = get_run(session, run_ref)
        refuse_live_owner(session, run.id)  # before loading anything: name the live trainer
    if run.status == "finished":
        raise RegistryError(f"run {run.id} already finished; nothing to resume")
    _refuse_withdrawn_training_images(store, run)
    config = recorded_config(run)
    current = code_version()["source_sha256"]
    if current != run.code["source_sha256"]:
        raise RegistryError(
            f"run {run.id} was recorded with other code (source {run.code['source_sha256'][:12]}); "
            "resume needs the same code"
        )
    differences = environment_differences(run.environment, environment(config.train.threads))
    if differences:
        raise RegistryError(
            f"run {run.id} was recorded in another environment ({'; '.join(differences)}); resume it there"
        )
    noisy = None
    if config.noise.kind == "pairs":
        with store.reader() as session:
            noisy = recorded_noisy_members(session, session.get(Run, run.id))
    data = _load_split(workspace, split_files(run), config.model.channels, noisy)
    last = run.checkpoints[-1] if run.checkpoints else None
    resume = None
    if last is not None:
        resume = (
            read_verified(workspace, last.path, last.sha256, f"checkpoint of step {last.step}"),
            read_verified(workspace, last.state_path, last.state_sha256, f"training state of step {last.step}"),
        )
    try:
        with store.transaction() as session:
            hold = take(session, run.id)  # before anything of the run is touched
            _restart(session, run.id, last.step if last else 0)
    except IntegrityError:
        raise RegistryError(f"run {run.id} was claimed by another trainer at the same moment") from None
    reporter.info(f"resuming run {run.id} from step {last.step if last else 0}")
    _execute(workspace, store, hold, config, data, reporter, hooks, resume=resume)
    return run.id


def _restart(session, run_id: str, from_step: int) -> None:
    """The run back to `running` from its last checkpoint: the loss points after it go."""
    # One by one through the ORM, so the ledger records each deletion.
    stale = select(LossPoint).where(LossPoint.run_id == run_id, LossPoint.step > from_step)
    for point in session.scalars(stale):
        session.delete(point)
    record = session.get(Run, run_id)
    record.status, record.error, record.resumed = "running", None, record.resumed + 1


def train_successor(
    workspace: Workspace,
    run_ref: str,
    force: bool = False,
    reporter: Reporter | None = None,
    hooks: TrainingHooks | None = None,
) -> str:
    """Re-train a finished run without the images whose consent was withdrawn since; returns the new run's id.

    The successor uses the run's recorded config (hash-checked), its seeds, and its recorded
    split less the withdrawn pictures (and any picture that has since turned out to be a
    copy of another one in the split), each role keeping its order. Drawing the split
    afresh would not do: `make_split` shuffles the whole key list, so one key fewer moves
    every image, and the comparison of the two models would mix the withdrawal with a new
    split. Only when leaving the images out would empty a role is the split drawn afresh
    from the recorded split seed (as `registry train` of the config would), with a warning.

    Refused: a run that is not finished (resume it instead), and, unless `force`, a run
    whose weights depend on no withdrawn image, or one that already has a finished
    successor trained on no withdrawn image (like `dvc repro`, which re-runs an
    up-to-date stage only with --force).
    """
    reporter = reporter or Reporter()
    store = workspace.store()
    with store.reader() as session:
        run = get_run(session, run_ref)
        _check_successor(session, run, force)
        members = sorted(run.splits, key=lambda m: (ROLES.index(m.role), m.position))
        query = select(Image).where(Image.id.in_({m.image_pk for m in members})).options(selectinload(Image.dataset))
        images = {image.id: image for image in session.scalars(query)}
        reasons = withdrawals(session, images.values())
        kept = {m.image_key: images[m.image_pk] for m in members if m.image_pk not in reasons}
        repeated = _repeated_pictures(session, kept)
    config = recorded_config(run)
    for member in members:
        if member.image_pk not in images or images[member.image_pk].sha256 != member.sha256:
            raise RegistryError(f"run {run.id}: image {member.image_key} is gone or changed since the run used it")
    left_out = [{"image": m.image_key, "reason": reasons[m.image_pk]} for m in members if m.image_pk in reasons]
    left_out += [{"image": key, "reason": f"same picture as {first}"} for key, first in repeated.items()]
    names = [e["image"] for e in left_out]
    left = set(names)
    split = {
        role: [(m.image_key, images[m.image_pk]) for m in members if m.role == role and m.image_key not in left]
        for role in ROLES
    }
    excluded = list(run.excluded or []) + left_out
    empty = [role for role in ROLES if not split[role]]
    if empty:
        reporter.warn(
            f"leaving out {', '.join(names)} empties the {' and '.join(empty)} split of run {run.id}; "
            f"the successor's split is drawn afresh from split seed {config.data.split_seed}"
        )
        split, excluded = _plan_split(store, config, False, reporter)
    reporter.info(
        f"successor of run {run.id}: same config (sha256 {run.config_hash[:12]}) and seeds "
        f"({run.seed}/{run.split_seed}), leaving out " + (", ".join(names) or "nothing (--force)")
    )
    data = _load_planned(workspace, config, split)
    config_path = Path(run.config_path) if run.config_path else Path(f"(config of run {run.id})")
    hold = _record_run(workspace, store, config, config_path, split, excluded, None, successor_of=run.id)
    reporter.info(f"run {hold.run_id}: " + " / ".join(f"{len(split[role])} {role}" for role in ROLES) + " images")
    _execute(workspace, store, hold, config, data, reporter, hooks, resume=None)
    return hold.run_id


def _check_successor(session, run: Run, force: bool) -> None:
    """Why a successor of `run` would be pointless or impossible (one line each)."""
    if run.status != "finished":
        hint = "it is still running" if run.status == "running" else f"resume it: registry train --resume {run.id}"
        raise RegistryError(f"run {run.id} is {run.status}: a successor replaces a finished model ({hint})")
    if force:
        return
    if not affected_runs(session, [run.id]).get(run.id):
        tested = _withdrawn_test_images(session, run)
        if tested:
            raise RegistryError(
                f"run {run.id} has nothing to leave out from its weights: its withdrawn image(s) ({', '.join(tested)}) "
                "are only in its test split; --force re-trains it anyway"
            )
        raise RegistryError(
            f"run {run.id} has nothing to leave out: no image it used is withdrawn; "
            "--force re-trains it anyway with the same config and seeds"
        )
    earlier = session.scalars(select(Run).where(Run.successor_of == run.id, Run.status == "finished")).all()
    if earlier:
        stale = affected_runs(session, [r.id for r in earlier])
        current = [r.id for r in earlier if r.id not in stale]
        if current:
            raise RegistryError(
                f"run {run.id} already has successor {current[0]}, which uses no withdrawn image; "
                "--force trains another"
            )


def _withdrawn_test_images(session, run: Run) -> list[str]:
    """Keys of the run's test images whose consent is now withdrawn (they weigh in its metrics only)."""
    tests = [m for m in run.splits if m.role == "test"]
    images = session.scalars(select(Image).where(Image.id.in_({m.image_pk for m in tests}))).all()
    withdrawn = withdrawals(session, images)
    return sorted(m.image_key for m in tests if m.image_pk in withdrawn)


def _candidates(session, config: ExperimentConfig) -> dict[str, Image]:
    images: dict[str, Image] = {}
    for name in config.data.datasets:
        try:
            dataset = get_dataset(session, name)
        except NotFoundError as exc:
            raise RegistryError(f"config data.datasets: {exc} (see `registry data list`)") from None
        for image in dataset.images:
            images[f"{name}/{image.image_id}"] = image
    return images


def _load_planned(
    workspace: Workspace, config: ExperimentConfig, split: dict[str, list[tuple[str, Image]]]
) -> SplitData:
    """Load a split not yet recorded (and its real noisy files, for pairs); RegistryError if unusable."""
    noisy = noisy_members(split) if config.noise.kind == "pairs" else None
    files = {role: [(key, image.path, image.sha256) for key, image in members] for role, members in split.items()}
    data = _load_split(workspace, files, config.model.channels, noisy)
    try:
        check_images(config, list(data.train.values()), list(data.val.values()), *_noisy_lists(data))
    except DataError as exc:
        raise RegistryError(str(exc)) from None
    return data


def _load_split(
    workspace: Workspace, files: dict[str, list[tuple[str, str, str]]], channels: int, noisy: NoisyMembers | None
) -> SplitData:
    """Every image (and real noisy file, for pairs) loaded and hash-checked."""

    def load(members: dict[str, list[tuple[str, str, str]]], label: str) -> dict[str, dict[str, np.ndarray]]:
        return {
            role: {key: load_verified_image(workspace, key + label, path, sha, channels) for key, path, sha in group}
            for role, group in members.items()
        }

    return SplitData(**load(files, ""), noisy=None if noisy is None else load(noisy, " (noisy file)"))


def _noisy_lists(data: SplitData) -> tuple[list[np.ndarray] | None, list[np.ndarray] | None]:
    return data.noisy_list("train"), data.noisy_list("val")


class LockLost(RegistryError):
    """Another process took this run's lock (it took this one for dead): stop, touch nothing."""


class _RecordingHooks(TrainingHooks):
    """Persists each checkpoint in its own transaction and drives the progress bar; stops
    the training when the run's lock has passed to another trainer."""

    def __init__(
        self,
        workspace: Workspace,
        store: Store,
        heartbeat: Heartbeat,
        update: Callable[..., None],
        inner: TrainingHooks | None,
    ):
        self.workspace, self.store, self.update, self.inner = workspace, store, update, inner
        self.heartbeat, self.run_id = heartbeat, heartbeat.hold.run_id

    def _check_lock(self) -> None:
        if self.heartbeat.lost.is_set():
            raise LockLost(f"run {self.run_id}: another trainer took over its lock; this one stops")

    def on_step(self, step: int, total: int, loss: float) -> None:
        self._check_lock()
        self.update(step, f"loss {loss:.5f}")
        if self.inner:
            self.inner.on_step(step, total, loss)

    def on_checkpoint(self, checkpoint: TrainedCheckpoint) -> None:
        sha, path = store_weights(self.workspace, checkpoint.weights)
        state_sha, state_path = store_state(self.workspace, self.run_id, checkpoint.step, checkpoint.state)
        with self.store.transaction() as session:
            if not holds(session, self.heartbeat.hold):
                raise LockLost(f"run {self.run_id}: another trainer took over its lock; this one stops")
            session.add(
                Checkpoint(
                    run_id=self.run_id,
                    step=checkpoint.step,
                    final=checkpoint.final,
                    sha256=sha,
                    path=path,
                    state_sha256=state_sha,
                    state_path=state_path,
                    created_at=utcnow(),
                )
            )
            for point in checkpoint.losses:
                session.add(LossPoint(run_id=self.run_id, step=point.step, split=point.split, value=point.value))
        if self.inner:
            self.inner.on_checkpoint(checkpoint)


def _execute(
    workspace: Workspace,
    store: Store,
    hold: Hold,
    config: ExperimentConfig,
    data: SplitData,
    reporter: Reporter,
    hooks: TrainingHooks | None,
    resume: tuple[bytes, bytes] | None,
) -> None:
    run_id = hold.run_id
    started = time.perf_counter()
    try:
        with Heartbeat(store, hold) as heartbeat:
            with reporter.progress(f"training {run_id}", config.train.steps) as update:
                recording = _RecordingHooks(workspace, store, heartbeat, update, hooks)
                weights, state = resume if resume else (None, None)
                train_noisy, val_noisy = _noisy_lists(data)
                model = train(
                    config,
                    list(data.train.values()),
                    list(data.val.values()),
                    recording,
                    weights,
                    state,
                    train_noisy=train_noisy,
                    val_noisy=val_noisy,
                )
            trained = time.perf_counter()
            if data.noisy is None:
                sigmas = ", ".join(f"{s:g}" for s in config.eval.sigmas)
                reporter.info(f"evaluating on {len(data.test)} test image(s) at sigma {sigmas}")
            else:
                reporter.info(f"evaluating on {len(data.test)} test image(s) with their real noise, blind")
            test_noisy = None if data.noisy is None else data.noisy["test"]
            with reporter.progress(f"evaluating {run_id}", len(data.test)) as update:
                result = evaluate_split(model, config, data.test, list(data.val.values()), test_noisy, update)
            sizes = {key: image.shape[:2] for key, image in data.test.items()}
            details = evaluation_details(result, sizes) | {"cost": size_costs(model, set(sizes.values()))}
            if data.noisy is not None:
                details |= real_noise_details(config.eval, None)
            evaluated = time.perf_counter()
            with reporter.progress("measuring compute cost", cost.profile_steps()) as update:
                profile = cost.profile(model, done=update)
            _finish(store, hold, result, details, profile, trained - started, evaluated - trained)
    except LockLost:
        raise  # the run is another trainer's now: nothing of it is touched
    except DataError as exc:
        _mark(store, hold, "failed", str(exc))
        raise RegistryError(str(exc)) from None
    except KeyboardInterrupt:
        _mark(store, hold, "interrupted", "interrupted by the user")
        raise
    except OSError as exc:  # a full disk, a folder made read-only: the user can fix it and resume
        reason = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
        _mark(store, hold, "failed", f"{type(exc).__name__}: {reason}")
        raise RegistryError(f"run {run_id} failed: {reason}; fix it, then: registry train --resume {run_id}") from None
    except BaseException as exc:
        _mark(store, hold, "failed", f"{type(exc).__name__}: {exc}")
        raise
    _sign_ledger(workspace, store, run_id, reporter)


def _sign_ledger(workspace: Workspace, store: Store, run_id: str, reporter: Reporter) -> None:
    """Sign the ledger's head at the end of the run; a run is never failed for want of a key."""
    try:
        sign_head(store, folder_credentials(workspace, reporter=reporter), f"run {run_id} finished")
    except RegistryError as exc:
        reporter.warn(f"the ledger head was not signed ({exc}); sign it later with `registry ledger sign`")


def _finish(
    store: Store, hold: Hold, result: Evaluation, details: dict, profile: dict, train_s: float, eval_s: float
) -> None:
    """One transaction: the whole metric table, the compute cost, the finished status, the lock released."""
    run_id = hold.run_id
    with store.transaction() as session:
        if not holds(session, hold):
            raise LockLost(f"run {run_id}: another trainer took over its lock; its results are not recorded")
        release(session, hold)
        for row in result.rows:
            session.add(Metric(run_id=run_id, **metric_fields(row)))
        for agg in aggregate(result.rows):
            session.add(RunMetric(run_id=run_id, **agg))
        run = session.get(Run, run_id)
        run.evaluation, run.cost = details, profile
        run.status, run.finished_at = "finished", utcnow()
        run.train_seconds = (run.train_seconds or 0.0) + train_s
        run.eval_seconds = eval_s


def _mark(store: Store, hold: Hold, status: str, error: str) -> None:
    """The run failed or interrupted, and its lock released; a run another trainer holds now is left alone."""
    with store.transaction() as session:
        if not holds(session, hold):
            return
        release(session, hold)
        run = session.get(Run, hold.run_id)
        run.status, run.error = status, error
