"""The registry schema (SQLAlchemy 2 ORM). Alembic migrations in registry/migrations
create and evolve it; change both together.

Paths are stored relative to the workspace root so a workspace can move. Hashes are
lowercase hex sha256 unless a column says otherwise (DVC versions are md5).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Double, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

RUN_STATUSES = ("running", "finished", "failed", "interrupted")
VERDICTS = ("IDENTICAL", "EQUIVALENT", "DIVERGED", "INTEGRITY_FAILED")


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, float: Double}


class RegistryInfo(Base):
    """Facts about the registry itself; `workspace_id` names it in every signed manifest."""

    __tablename__ = "registry_info"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    path: Mapped[str] = mapped_column(String(500))  # e.g. data/bsd68, relative to the workspace
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 over sorted (image_id, sha256) pairs
    dvc_version: Mapped[str] = mapped_column(String(100))  # md5 of data/ in data.dvc after adding
    source: Mapped[str] = mapped_column(Text, default="")
    license: Mapped[str] = mapped_column(String(200), default="")
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime]

    images: Mapped[list[Image]] = relationship(back_populates="dataset", order_by="Image.image_id")


class Image(Base):
    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("dataset_id", "image_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    image_id: Mapped[str] = mapped_column(String(200))  # unique within the dataset
    path: Mapped[str] = mapped_column(String(500))  # relative to the workspace
    sha256: Mapped[str] = mapped_column(String(64))
    # What the picture is, whatever its file: sha256 of mode, size and decoded pixels.
    # Copies share consent (see registry.consent); None until backfilled from the file.
    content_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(20))  # Pillow mode of the file
    conversion: Mapped[str] = mapped_column(Text, default="")  # how it becomes a model's input
    license: Mapped[str] = mapped_column(String(200), default="")
    attribution: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    consent: Mapped[str] = mapped_column(String(20), default="unknown")
    consent_note: Mapped[str] = mapped_column(Text, default="")

    dataset: Mapped[Dataset] = relationship(back_populates="images")
    # A paired dataset's real noisy shot of this clean picture (loaded with the image).
    noisy: Mapped[NoisyFile | None] = relationship(back_populates="image", lazy="selectin")


class NoisyFile(Base):
    """The real noisy file paired with a clean image (a manifest's `noisy_file` column).

    A table of its own rather than columns of `images`: rows recorded before pairs existed
    keep the exact columns, and so the ledger hashes, they were recorded with.
    """

    __tablename__ = "noisy_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    image_pk: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), unique=True)
    file: Mapped[str] = mapped_column(String(500))  # as the manifest gives it, relative to the dataset folder
    path: Mapped[str] = mapped_column(String(500))  # relative to the workspace
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(20))  # Pillow mode of the file

    image: Mapped[Image] = relationship(back_populates="noisy")


class ConsentEvent(Base):
    """History of consent changes: who changed what, when and why."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    previous: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    reached: Mapped[list[Any] | None]  # every copy of the picture the change reached, with its effective status
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime]


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]]  # fully resolved experiment config
    config_hash: Mapped[str] = mapped_column(String(64))
    config_path: Mapped[str] = mapped_column(Text, default="")  # as given on the command line
    family: Mapped[str | None] = mapped_column(String(100))  # runs trained together, e.g. by `registry ablate`
    # The run this one re-trains without images withdrawn since (`registry train --successor`).
    successor_of: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="RESTRICT"))
    seed: Mapped[int] = mapped_column(Integer)
    split_seed: Mapped[int] = mapped_column(Integer)
    user: Mapped[dict[str, Any]]  # OS user, git identity
    data_version: Mapped[str] = mapped_column(String(100))  # md5 of data/ in data.dvc
    data_dvc_sha256: Mapped[str] = mapped_column(String(64))  # of the data.dvc file itself
    code: Mapped[dict[str, Any]]  # package version, source hash, git commit, dirty hash
    environment: Mapped[dict[str, Any]]  # versions, threads, CPU, platform, lock hash
    excluded: Mapped[list[Any]]  # images left out of the splits, with the reason
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    train_seconds: Mapped[float | None]
    eval_seconds: Mapped[float | None]
    error: Mapped[str | None] = mapped_column(Text)
    resumed: Mapped[int] = mapped_column(Integer, default=0)  # times resumed
    evaluation: Mapped[dict[str, Any] | None]  # unavailable metrics, baseline settings, timings
    cost: Mapped[dict[str, Any] | None]  # parameters, FLOPs, inference time and memory per size

    splits: Mapped[list[SplitImage]] = relationship(order_by="SplitImage.role, SplitImage.position")
    checkpoints: Mapped[list[Checkpoint]] = relationship(order_by="Checkpoint.step")
    losses: Mapped[list[LossPoint]] = relationship(order_by="LossPoint.step, LossPoint.split")
    # The run's own test-split table (recorded with the run, compared by audits); tables
    # of later `registry eval` calls hang off their Evaluation instead.
    metrics: Mapped[list[Metric]] = relationship(
        primaryjoin="and_(Run.id == Metric.run_id, Metric.evaluation_id.is_(None))", viewonly=True
    )
    aggregates: Mapped[list[RunMetric]] = relationship(
        primaryjoin="and_(Run.id == RunMetric.run_id, RunMetric.evaluation_id.is_(None))", viewonly=True
    )
    evaluations: Mapped[list[Evaluation]] = relationship(order_by="Evaluation.created_at", viewonly=True)
    audits: Mapped[list[Audit]] = relationship(order_by="Audit.created_at")


class RunLock(Base):
    """The process training a run right now (registry.run_locks). Operational state, not
    provenance: it changes with every heartbeat, so the ledger does not record it."""

    __tablename__ = "run_locks"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))  # this hold of the lock: a later one is another owner
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    process: Mapped[str] = mapped_column(String(100))  # boot id and start time: a reused pid is not the owner
    acquired_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]


class SplitImage(Base):
    """One image in one role of a run's split, with its hash at the time of use."""

    __tablename__ = "split_images"
    __table_args__ = (UniqueConstraint("run_id", "role", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(10))  # train, val, test
    position: Mapped[int] = mapped_column(Integer)  # order within the role (matters to training)
    image_pk: Mapped[int] = mapped_column(ForeignKey("images.id"))
    image_key: Mapped[str] = mapped_column(String(300))  # dataset/image_id
    path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))


class Checkpoint(Base):
    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("run_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    final: Mapped[bool]
    sha256: Mapped[str] = mapped_column(String(64))  # of the weights file
    path: Mapped[str] = mapped_column(String(500))  # content-addressed weights file
    state_sha256: Mapped[str] = mapped_column(String(64))
    state_path: Mapped[str] = mapped_column(String(500))  # optimizer + RNG state for resuming
    created_at: Mapped[datetime]


class LossPoint(Base):
    __tablename__ = "loss_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    split: Mapped[str] = mapped_column(String(10))  # train or val
    value: Mapped[float]


class Evaluation(Base):
    """One `registry eval`: a model and baselines on a dataset, with its options and exclusions."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    dataset: Mapped[str] = mapped_column(String(100))  # a dataset name, or "test split"
    options: Mapped[dict[str, Any]]  # sigmas, baselines, protocol, blind, estimator, steps
    include_withdrawn: Mapped[bool]
    reason: Mapped[str] = mapped_column(Text, default="")  # why withdrawn images were included
    excluded: Mapped[list[Any]]  # images left out, with the reason
    details: Mapped[dict[str, Any]]  # unavailable metrics, baseline settings, sigma estimates, timings
    cost: Mapped[dict[str, Any]]  # FLOPs and peak memory per image size
    user: Mapped[dict[str, Any]]
    seconds: Mapped[float]
    created_at: Mapped[datetime]

    metrics: Mapped[list[Metric]] = relationship(viewonly=True)
    aggregates: Mapped[list[RunMetric]] = relationship(viewonly=True)


class Metric(Base):
    """One number: a metric of one method on one image at one sigma."""

    __tablename__ = "metrics"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    evaluation_id: Mapped[int | None] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"))
    image_key: Mapped[str] = mapped_column(String(300))
    sigma: Mapped[float]
    method: Mapped[str] = mapped_column(String(50))  # model, noisy, gaussian...
    metric: Mapped[str] = mapped_column(String(20))  # psnr, ssim, lpips
    value: Mapped[float]


class RunMetric(Base):
    """Aggregate of a metric over the test images (mean and sample std)."""

    __tablename__ = "run_metrics"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    evaluation_id: Mapped[int | None] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"))
    sigma: Mapped[float]
    method: Mapped[str] = mapped_column(String(50))
    metric: Mapped[str] = mapped_column(String(20))
    mean: Mapped[float]
    std: Mapped[float]
    count: Mapped[int] = mapped_column(Integer)


class Output(Base):
    """A denoised image written by `registry denoise` inside the workspace."""

    __tablename__ = "outputs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The model's run when it is recorded in this registry (a run with outputs cannot be
    # deleted); a model folder from elsewhere names its run in model_run_id instead.
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="RESTRICT"))
    model_run_id: Mapped[str | None] = mapped_column(String(40))
    model_sha256: Mapped[str] = mapped_column(String(64))  # weights that produced it
    input_name: Mapped[str] = mapped_column(Text)
    input_sha256: Mapped[str] = mapped_column(String(64))
    output_path: Mapped[str] = mapped_column(Text)  # workspace-relative when inside it, else absolute
    output_sha256: Mapped[str] = mapped_column(String(64))
    pixel_sha256: Mapped[str | None] = mapped_column(String(64), index=True)  # survives re-encoding
    sigma: Mapped[float]
    sigma_estimated: Mapped[bool]  # True in blind mode
    estimator: Mapped[str | None] = mapped_column(String(20))
    steps: Mapped[int] = mapped_column(Integer)
    bits: Mapped[int] = mapped_column(Integer)
    signed: Mapped[bool]
    manifest: Mapped[dict[str, Any] | None]  # provenance manifest, when signed
    user: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Audit(Base):
    __tablename__ = "audits"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)  # one line: why this verdict
    differences: Mapped[list[Any]]  # every difference found, in order
    notes: Mapped[list[Any]]  # code/environment differences, restored files...
    environment: Mapped[dict[str, Any]]  # where the audit ran
    code: Mapped[dict[str, Any]]  # the code that re-executed the run
    user: Mapped[dict[str, Any]]
    seconds: Mapped[float]
    created_at: Mapped[datetime]


class Export(Base):
    """A model folder written by `registry export`: where it went and what it carries."""

    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="RESTRICT"))
    path: Mapped[str] = mapped_column(Text)  # workspace-relative when inside it, else absolute
    weights_sha256: Mapped[str] = mapped_column(String(64))
    signed: Mapped[bool]
    signer: Mapped[dict[str, Any] | None]  # subject and fingerprint of the folder's signing certificate
    withdrawals_location: Mapped[str | None] = mapped_column(Text)  # where the folder says withdrawals are published
    user: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class WithdrawalList(Base):
    """A signed withdrawal list written by `registry withdrawals publish`."""

    __tablename__ = "withdrawal_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))  # of the file as written
    images: Mapped[int] = mapped_column(Integer)  # withdrawn pictures listed
    runs: Mapped[int] = mapped_column(Integer)  # affected runs listed
    user: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class LedgerEntry(Base):
    """One write of the registry, in the order the writes were made: the leaves of an RFC 6962
    Merkle tree (registry.ledger). Written in the transaction of the write it records."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_kind_key", "kind", "key"),)

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # leaf index, from 0
    kind: Mapped[str] = mapped_column(String(50))  # the table written
    key: Mapped[str] = mapped_column(String(300))  # the row's primary key, as text
    action: Mapped[str] = mapped_column(String(10))  # insert, update, delete, or baseline (rows older than the ledger)
    row_sha256: Mapped[str | None] = mapped_column(String(64))  # sha256 of the row's RFC 8785 JSON; None when deleted
    recorded_at: Mapped[datetime]
    leaf_sha256: Mapped[str] = mapped_column(String(64))  # RFC 6962 leaf hash of this entry's canonical JSON


class LedgerHead(Base):
    """A signed tree head (size, root) of the ledger: what a verifier pins."""

    __tablename__ = "ledger_heads"

    id: Mapped[int] = mapped_column(primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    root_sha256: Mapped[str] = mapped_column(String(64))
    signed: Mapped[dict[str, Any]]  # the signed head document (provenance.signed_documents)
    reason: Mapped[str] = mapped_column(Text)  # why it was signed: end of a run, `registry ledger sign`
    created_at: Mapped[datetime]
