"""The Alembic migrations build exactly the schema the ORM models describe, on both databases."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from registry.db import Store, _alembic_config, migrate, utcnow
from registry.identity import registry_id
from registry.models import Base, Output, Run


def test_migrations_match_the_models(tmp_path, db_url):
    store = Store(db_url or f"sqlite:///{tmp_path / 'schema.db'}")
    migrate(store.engine)
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    store.check_schema()
    store.close()


def _upgrade(store, revision):
    config = _alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_0004_upgrades_a_registry_that_has_outputs(tmp_path, db_url):
    """Outputs of a run still recorded keep it (now a foreign key); those naming a run that is
    not here move to model_run_id; the registry gets its own id."""
    store = Store(db_url or f"sqlite:///{tmp_path / 'old.db'}")
    _upgrade(store, "0003")
    now = utcnow()
    run = Run(
        id="run-here",
        name="n",
        status="finished",
        config={},
        config_hash="0",
        seed=0,
        split_seed=0,
        user={},
        data_version="v",
        data_dvc_sha256="0",
        code={},
        environment={},
        excluded=[],
        created_at=now,
    )
    with store.transaction() as session:
        session.add(run)
    # Raw SQL: the ORM's Output already has 0004's columns. ("user" is quoted: PostgreSQL reserves it.)
    insert = text(
        "INSERT INTO outputs (run_id, model_sha256, input_name, input_sha256, output_path, output_sha256, sigma, "
        'sigma_estimated, steps, bits, signed, "user", created_at) '
        "VALUES (:run, 'm', 'in.png', 'i', 'out.png', :run, 25, false, 1, 8, true, '{}', :now)"
    )
    with store.engine.begin() as connection:
        for run_id in ("run-here", "run-elsewhere"):
            connection.execute(insert, {"run": run_id, "now": now})
    _upgrade(store, "head")
    with store.reader() as session:
        bound = {o.output_sha256: (o.run_id, o.model_run_id) for o in session.query(Output)}
        assert len(registry_id(session)) == 32
    assert bound == {"run-here": ("run-here", None), "run-elsewhere": (None, "run-elsewhere")}
    store.close()
