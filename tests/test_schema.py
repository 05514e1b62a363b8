"""The Alembic migrations build exactly the schema the ORM models describe, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from registry.db import Store, migrate, utcnow
from registry.identity import registry_id
from registry.models import Base, Output


def test_migrations_match_the_models(tmp_path, db_url):
    store = Store(db_url or f"sqlite:///{tmp_path / 'schema.db'}")
    migrate(store.engine)
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    store.check_schema()
    store.close()


def test_0004_upgrades_a_registry_that_has_outputs(tmp_path, db_url):
    """Outputs of a run still recorded keep it (now a foreign key); those naming a run that is
    not here move to model_run_id; the registry gets its own id."""
    store = Store(db_url or f"sqlite:///{tmp_path / 'old.db'}")
    migrate(store.engine, "0003")
    now = utcnow()
    # Raw SQL throughout: the ORM describes the newest schema, not 0003's. ("user" is quoted:
    # PostgreSQL reserves it.)
    with store.engine.begin() as connection:
        connection.execute(
            text(
                'INSERT INTO runs (id, name, status, config, config_hash, config_path, seed, split_seed, "user", '
                "data_version, data_dvc_sha256, code, environment, excluded, created_at, resumed) VALUES "
                "('run-here', 'n', 'finished', '{}', '0', '', 0, 0, '{}', 'v', '0', '{}', '{}', '[]', :now, 0)"
            ),
            {"now": now},
        )
    insert = text(
        "INSERT INTO outputs (run_id, model_sha256, input_name, input_sha256, output_path, output_sha256, sigma, "
        'sigma_estimated, steps, bits, signed, "user", created_at) '
        "VALUES (:run, 'm', 'in.png', 'i', 'out.png', :run, 25, false, 1, 8, true, '{}', :now)"
    )
    with store.engine.begin() as connection:
        for run_id in ("run-here", "run-elsewhere"):
            connection.execute(insert, {"run": run_id, "now": now})
    migrate(store.engine)
    with store.reader() as session:
        bound = {o.output_sha256: (o.run_id, o.model_run_id) for o in session.query(Output)}
        assert len(registry_id(session)) == 32
    assert bound == {"run-here": ("run-here", None), "run-elsewhere": (None, "run-elsewhere")}
    store.close()
