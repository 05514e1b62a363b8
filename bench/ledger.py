"""What the ledger costs: on training, on verifying a large ledger, and a proof's size and check time.

Usage, from the checkout: python -m bench.ledger [--repeats 3] [--entries 100000] [--skip-train]
    [--postgres postgresql://postgres@127.0.0.1:5432/test]

- Training overhead: trains configs/quickstart.yaml in a fresh workspace (starter data) and
  adds up the time the ledger's hooks spent appending entries plus signing the run's head,
  as a share of the whole `registry train` (the ledger is always on, so it is timed from
  inside rather than switched off).
- Verifying: fills a registry with --entries ledger entries (loss-point rows written through
  the ORM in transactions of 5,000, as training writes them) on SQLite and on PostgreSQL, and
  times `registry ledger verify` (every entry re-hashed, every row re-read, the signed head).
- Proofs: the size of an inclusion proof for a row of that registry and the time to check it.
Medians over the repeats. Prints a table and writes bench/results/ledger.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from bench.common import ROOT, markdown_table, median_seconds, write_result
from registry.db import Store
from registry.ledger import record
from registry.ledger.check import verify_ledger
from registry.ledger.heads import sign_head
from registry.ledger.proofs import check_proof, prove
from registry.models import LossPoint
from registry.signing_keys import folder_credentials
from registry.starter import ensure_starter
from registry.tracking import train_run
from registry.trust_store import chosen_anchors
from registry.workspace import Workspace, init_workspace

BATCH = 5_000


def training_overhead(repeats: int) -> dict:
    """Share of `registry train` (quickstart) spent appending ledger entries and signing the head."""
    shares, totals = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            workspace, _ = init_workspace(Path(folder) / "ws")
            ensure_starter(workspace)
            folder_credentials(workspace)  # keys made beforehand, as in any workspace after its first run
            before = (record.TIMING.seconds + record.TIMING.head_seconds, record.TIMING.entries)
            started = time.perf_counter()
            train_run(workspace, ROOT / "configs" / "quickstart.yaml")
            total = time.perf_counter() - started
            ledger_seconds = record.TIMING.seconds + record.TIMING.head_seconds - before[0]
            shares.append(ledger_seconds / total)
            totals.append(total)
            entries = record.TIMING.entries - before[1]
            workspace.store().close()
    return {"train_seconds": statistics.median(totals), "ledger_share": statistics.median(shares), "entries": entries}


def large_ledger(workspace: Workspace, entries: int) -> float:
    """Write `entries` loss points through the ORM; returns entries appended per second."""
    store = workspace.store()
    run_id = _placeholder_run(store)
    started = time.perf_counter()
    for first in range(0, entries, BATCH):
        with store.transaction() as session:
            session.add_all(
                LossPoint(run_id=run_id, step=step, split="train", value=1.0 / (step + 1))
                for step in range(first, min(first + BATCH, entries))
            )
    return entries / (time.perf_counter() - started)


def _placeholder_run(store: Store) -> str:
    """A run row to hang loss points on (written through the ORM, so it is in the ledger too)."""
    from registry.db import utcnow
    from registry.models import Run

    with store.transaction() as session:
        run = Run(
            id="bench-ledger",
            name="bench",
            status="finished",
            config={},
            config_hash="-",
            seed=0,
            split_seed=0,
            user={},
            data_version="-",
            data_dvc_sha256="-",
            code={},
            environment={},
            excluded=[],
            created_at=utcnow(),
        )
        session.add(run)
    return run.id


def verify_and_prove(workspace: Workspace, entries: int, repeats: int) -> dict:
    rate = large_ledger(workspace, entries)
    store = workspace.store()
    sign_head(store, folder_credentials(workspace), "bench")
    anchors = chosen_anchors()
    seconds = median_seconds(lambda: _must_be_intact(verify_ledger(store, anchors)), repeats)
    with store.reader() as session:
        proof = prove(session, f"loss_points:{entries // 2}")  # a row in the middle
    proof_bytes = len(json.dumps(proof).encode())
    check = median_seconds(lambda: check_proof(proof, anchors), max(repeats, 5))
    return {
        "entries": entries,
        "append_per_second": rate,
        "verify_seconds": seconds,
        "proof_bytes": proof_bytes,
        "proof_check_ms": 1000 * check,
    }


def _must_be_intact(report) -> None:
    if not report.ok:
        raise SystemExit(f"ledger not intact in the benchmark: {report.first().line()}")


def on_postgres(admin: str, entries: int, repeats: int) -> dict:
    name = f"provenoise_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    try:
        with tempfile.TemporaryDirectory() as folder:
            workspace, _ = init_workspace(Path(folder) / "ws", url)
            result = verify_and_prove(workspace, entries, repeats)
            workspace.store().close()
            return result
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def on_sqlite(entries: int, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        workspace, _ = init_workspace(Path(folder) / "ws")
        result = verify_and_prove(workspace, entries, repeats)
        workspace.store().close()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--skip-train", action="store_true", help="Only the verify and proof figures.")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    results = {}
    if not args.skip_train:
        results["train"] = training_overhead(args.repeats)
    results["sqlite"] = on_sqlite(args.entries, args.repeats)
    results["postgresql"] = on_postgres(args.postgres, args.entries, args.repeats)
    rows = [
        [db, r["entries"], f"{r['append_per_second']:.0f}", r["verify_seconds"], r["proof_bytes"], r["proof_check_ms"]]
        for db, r in ((db, results[db]) for db in ("sqlite", "postgresql"))
    ]
    print(f"Ledger verify and proofs, median of {args.repeats}")
    print(markdown_table(["database", "entries", "appends/s", "verify s", "proof bytes", "proof check ms"], rows))
    if "train" in results:
        train = results["train"]
        print(
            f"\nregistry train (quickstart): {train['train_seconds']:.1f} s, {train['entries']} ledger entries; "
            f"appending them and signing the head took {100 * train['ledger_share']:.2f}% of it (target: under 2%)"
        )
    print(f"\nwrote {write_result('ledger', results)}")


if __name__ == "__main__":
    main()
