"""Database connection, schema migrations and transactions.

Every write goes through `Store.transaction()`: one commit or, on any exception, one
rollback, so a failed command never leaves half a record behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from registry.errors import RegistryError
from registry.ledger import record as ledger

MIGRATIONS = Path(__file__).parent / "migrations"


def utcnow() -> datetime:
    """Naive UTC timestamps: the same meaning in SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


def normalize_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(unparseable URL)"


def make_private_sqlite_file(url: str) -> None:
    """Create a SQLite database file readable by its owner only (or make an existing one so);
    SQLite gives its journal files the database file's mode."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return  # make_engine names the problem
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))
        path.chmod(0o600)
    except OSError:
        return  # a folder that does not exist, a link: connecting names the problem


def make_engine(url: str) -> Engine:
    try:
        engine = create_engine(normalize_url(url))
    except (ArgumentError, ImportError, ValueError) as exc:
        raise RegistryError(f"invalid database URL {safe_url(url)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to the newest migration, or to `revision` (creates it on an empty database)."""
    config = _alembic_config()
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as connection:
            if sqlite:
                # SQLite changes a table by copying it and dropping the old one, which foreign keys
                # pointing at it would refuse; they are checked all at once before committing.
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            try:
                with connection.begin():
                    config.attributes["connection"] = connection
                    command.upgrade(config, revision)
                    if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                        raise RegistryError("the schema upgrade would break foreign keys; nothing was changed")
            finally:
                if sqlite:
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()
    except OperationalError as exc:
        raise RegistryError(f"cannot reach the registry database: {exc.orig}") from None


def schema_is_current(engine: Engine) -> bool:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


class Store:
    """A registry database: sessions and transactions."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        ledger.install(self._sessions)  # every write this store makes is recorded in the ledger

    def check_schema(self) -> None:
        try:
            current = schema_is_current(self.engine)
        except OperationalError as exc:
            raise RegistryError(f"cannot reach the registry database: {exc.orig}") from None
        if not current:
            raise RegistryError("the registry database schema is missing or out of date; run `registry init`")

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed at the end of the block, or rolled back."""
        with self._sessions() as session, session.begin():
            if self.engine.dialect.name == "sqlite":
                # The write lock now, waiting up to busy_timeout for another writer: a transaction
                # that reads before it writes would otherwise fail at once ("database is locked")
                # when another process wrote in between, SQLite's way of refusing a deadlock.
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            yield session

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A session for reading only."""
        with self._sessions() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()
