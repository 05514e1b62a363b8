"""The tamper-evident record (issue 10, capability 5): every write leaves a ledger entry; verify
names the first entry that no longer matches after each kind of tampering; proofs check
offline; a pinned head must be extended, never rewritten."""

import json
import threading

import pytest
from sqlalchemy import func, select, text

from provenance.keys import create_development_keys
from provenance.signed_documents import sign_document
from registry.datasets import add_dataset, set_consent
from registry.db import Store
from registry.ledger.check import verify_ledger
from registry.ledger.record import entry_leaf
from registry.ledger.rows import json_value
from registry.models import ConsentEvent, LedgerEntry, LedgerHead, LossPoint, Metric
from registry.trust_store import chosen_anchors
from registry.workspace import init_workspace
from tests.conftest import cli, write_dataset


@pytest.fixture
def workspace(trained_workspace):
    return trained_workspace.workspace


@pytest.fixture
def run_id(trained_workspace):
    return trained_workspace.run_id


def sql(workspace, *statements, **params):
    with workspace.store().engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), params)


def scalar(workspace, query):
    with workspace.store().reader() as session:
        return session.scalar(query)


def verify(capsys, *args):
    code, out, err = cli(capsys, "ledger", "verify", *args, "--json")
    return code, (json.loads(out) if out else err)


def test_every_write_is_recorded_and_a_finished_run_leaves_a_signed_head(workspace, run_id, capsys):
    entries = scalar(workspace, select(func.count()).select_from(LedgerEntry))
    metrics = scalar(workspace, select(func.count()).select_from(Metric))
    assert entries > metrics > 0
    code, report = verify(capsys)
    assert code == 0 and report["ok"] and report["heads_checked"] >= 1 and report["size"] == entries
    code, out, _ = cli(capsys, "ledger", "verify")
    assert code == 0 and out.startswith("ledger intact")


def test_an_sql_update_of_a_metric_is_named(workspace, capsys):
    metric = scalar(workspace, select(Metric.id).limit(1))
    sql(workspace, "UPDATE metrics SET value = value + 0.5 WHERE id = :id", id=metric)
    code, report = verify(capsys)
    assert code == 1 and f"metrics {metric} changed since this entry" in report["first_problem"]
    assert report["first_problem"].startswith("entry #")


def test_a_deleted_consent_event_is_named(workspace, capsys):
    set_consent(workspace, "tiny/img01", "granted", "form on file")
    event = scalar(workspace, select(ConsentEvent.id))
    sql(workspace, "DELETE FROM consent_events WHERE id = :id", id=event)
    code, report = verify(capsys)
    assert code == 1 and f"consent_events {event} is recorded here but no longer exists" in report["first_problem"]


def test_an_inserted_run_is_named(workspace, run_id, capsys):
    sql(
        workspace,
        'INSERT INTO runs (id, name, status, config, config_hash, config_path, seed, split_seed, "user", '
        "data_version, data_dvc_sha256, code, environment, excluded, created_at, resumed) "
        "SELECT 'forged-run', name, status, config, config_hash, config_path, seed, split_seed, \"user\", "
        "data_version, data_dvc_sha256, code, environment, excluded, created_at, resumed FROM runs WHERE id = :id",
        id=run_id,
    )
    code, report = verify(capsys)
    assert code == 1 and "runs forged-run: a row the ledger never recorded" in report["first_problem"]


def test_reordered_entries_are_named(workspace, capsys):
    size = scalar(workspace, select(func.count()).select_from(LedgerEntry))
    a, b = size - 3, size - 2
    sql(
        workspace,
        "UPDATE ledger_entries SET seq = -1 WHERE seq = :a",
        "UPDATE ledger_entries SET seq = :a WHERE seq = :b",
        "UPDATE ledger_entries SET seq = :b WHERE seq = -1",
        a=a,
        b=b,
    )
    code, report = verify(capsys)
    assert code == 1 and report["first_problem"].startswith(f"entry #{a}:")
    assert "edited or reordered" in report["first_problem"]


def test_a_rewritten_entry_with_a_recomputed_leaf_breaks_the_signed_head(workspace, capsys):
    """An attacker who also recomputes the leaf hash is caught by the signed root."""
    with workspace.store().engine.begin() as connection:
        row = connection.execute(select(LedgerEntry.__table__).where(LedgerEntry.seq == 3)).mappings().one()
        entry = json_value(dict(row)) | {"row_sha256": "0" * 64}
        connection.execute(
            text("UPDATE ledger_entries SET row_sha256 = :row, leaf_sha256 = :leaf WHERE seq = 3"),
            {"row": "0" * 64, "leaf": entry_leaf(entry).hex()},
        )
    code, report = verify(capsys)
    assert code == 1 and any("history rewritten" in problem for problem in report["problems"])


def test_truncation_is_named(workspace, capsys):
    size = scalar(workspace, select(func.count()).select_from(LedgerEntry))
    sql(workspace, "DELETE FROM ledger_entries WHERE seq >= :keep", keep=size - 2)
    code, report = verify(capsys)
    assert code == 1 and any("(truncated)" in problem for problem in report["problems"])


def test_a_head_signed_by_another_key_is_named(workspace, tmp_path, capsys):
    head = scalar(workspace, select(LedgerHead).order_by(LedgerHead.id.desc()).limit(1))
    forged = sign_document(head.signed["payload"], create_development_keys(tmp_path / "someone-else"))
    with workspace.store().transaction() as session:
        session.get(LedgerHead, head.id).signed = forged
    code, report = verify(capsys)
    assert code == 1 and f"head #{head.id}" in report["first_problem"] and "do not trust" in report["first_problem"]


def test_a_pinned_head_must_be_extended_not_rewritten(workspace, tmp_path, capsys):
    pinned = tmp_path / "pinned.json"
    code, _, err = cli(capsys, "ledger", "head", "--out", pinned)
    assert code == 0, err
    set_consent(workspace, "tiny/img02", "granted", "later write")
    code, _, _ = cli(capsys, "ledger", "sign")
    code, report = verify(capsys, "--since", pinned)
    assert code == 0 and any(note.startswith("consistent with the pinned head") for note in report["notes"])
    # Rewrite an early entry (leaf recomputed) and re-sign: the new head no longer extends the pinned one.
    with workspace.store().engine.begin() as connection:
        row = connection.execute(select(LedgerEntry.__table__).where(LedgerEntry.seq == 1)).mappings().one()
        entry = json_value(dict(row)) | {"key": "rewritten"}
        connection.execute(
            text("UPDATE ledger_entries SET key = 'rewritten', leaf_sha256 = :leaf WHERE seq = 1"),
            {"leaf": entry_leaf(entry).hex()},
        )
        connection.execute(text("DELETE FROM ledger_heads"))
    code, _, _ = cli(capsys, "ledger", "sign")
    code, report = verify(capsys, "--since", pinned)
    assert code == 1 and any("not an extension of the pinned head" in problem for problem in report["problems"])


def test_a_proof_checks_offline_and_fails_for_an_altered_row(workspace, run_id, tmp_path, monkeypatch, capsys):
    pinned, proof = tmp_path / "pinned.json", tmp_path / "proof.json"
    assert cli(capsys, "ledger", "head", "--out", pinned)[0] == 0
    set_consent(workspace, "tiny/img03", "granted", "a write after pinning")
    assert cli(capsys, "ledger", "sign")[0] == 0
    code, _, err = cli(capsys, "ledger", "prove", f"runs:{run_id}", "--since", pinned, "--out", proof)
    assert code == 0, err
    monkeypatch.chdir(tmp_path)  # no workspace, no database: the files alone
    code, out, err = cli(capsys, "ledger", "check-proof", proof, "--head", pinned, "--json")
    result = json.loads(out)
    assert code == 0 and result["ok"] and result["key"] == run_id and "extends the pinned head" in result["pinned"]

    altered = json.loads(proof.read_text())
    altered["row"]["status"] = "forged"
    (tmp_path / "altered.json").write_text(json.dumps(altered))
    code, out, _ = cli(capsys, "ledger", "check-proof", tmp_path / "altered.json", "--head", pinned)
    assert code == 1 and out.startswith("FAIL") and "is not the one entry" in out

    wrong_path = json.loads(proof.read_text())
    wrong_path["audit_path"][0] = "00" * 32
    (tmp_path / "path.json").write_text(json.dumps(wrong_path))
    code, out, _ = cli(capsys, "ledger", "check-proof", tmp_path / "path.json")
    assert code == 1 and "is not in the signed tree" in out


def test_bad_input_is_one_line_and_exit_2(workspace, tmp_path, capsys):
    (tmp_path / "junk.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"type": "something else"}))
    for argv, message in (
        (["ledger", "prove", "no-such-item"], "no ledger item"),
        (["ledger", "check-proof", tmp_path / "junk.json"], "is not JSON"),
        (["ledger", "check-proof", tmp_path / "other.json"], "not a ledger proof"),
        (["ledger", "verify", "--since", tmp_path / "missing.json"], "cannot read pinned head"),
    ):
        code, _, err = cli(capsys, *argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)


def test_an_audit_checks_the_ledger_before_re_executing(workspace, run_id, capsys):
    metric = scalar(workspace, select(Metric.id).where(Metric.run_id == run_id).limit(1))
    sql(workspace, "UPDATE metrics SET value = 99 WHERE id = :id", id=metric)
    code, out, _ = cli(capsys, "audit", run_id, "--json")
    result = json.loads(out)
    assert code == 1 and result["verdict"] == "INTEGRITY_FAILED" and f"metrics {metric}" in result["reason"]


def test_concurrent_writers_get_one_order(workspace, run_id):
    """Two writers appending at once: one gapless sequence, every row matching its entry."""
    stores = [Store(workspace.db_url), Store(workspace.db_url)]
    errors = []

    def write(store, offset):
        try:
            for step in range(15):
                with store.transaction() as session:
                    session.add(LossPoint(run_id=run_id, step=10_000 + offset + step, split="train", value=0.1))
        except Exception as exc:  # surfaced below: a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(store, 100 * n)) for n, store in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert not errors
    with workspace.store().reader() as session:
        seqs = list(session.scalars(select(LedgerEntry.seq).order_by(LedgerEntry.seq)))
    assert seqs == list(range(len(seqs)))
    assert verify_ledger(workspace.store(), chosen_anchors()).ok


def test_upgrading_an_older_registry_takes_its_rows_in_as_a_baseline(tmp_path, db_url, monkeypatch, capsys):
    """A registry from before the ledger: `registry init` starts it and says what it does not cover."""
    monkeypatch.delenv("REGISTRY_DB_URL", raising=False)
    older, _ = init_workspace(tmp_path / "old", db_url)
    add_dataset(older, write_dataset(tmp_path / "source"), "tiny")
    sql(older, "DELETE FROM ledger_entries")  # as it was before the ledger existed
    monkeypatch.chdir(older.root)
    code, out, err = cli(capsys, "init", ".", "--no-starter", "--json")
    assert code == 0, err
    assert any("baseline" in line for line in json.loads(out)["done"])
    code, report = verify(capsys)
    assert code == 0 and report["baseline_entries"] == 1 + 6  # the dataset and its six images
    assert any("changes before it are not" in note for note in report["notes"])
