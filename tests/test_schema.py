"""The Alembic migrations build exactly the schema the ORM models describe, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from registry.db import Store, migrate
from registry.models import Base


def test_migrations_match_the_models(tmp_path, db_url):
    store = Store(db_url or f"sqlite:///{tmp_path / 'schema.db'}")
    migrate(store.engine)
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    store.check_schema()
    store.close()
