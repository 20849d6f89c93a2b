"""Engine set-up for the metadata store: SQLite (WAL) or PostgreSQL.

SQLite needs care for several writer processes: every write transaction
starts with ``BEGIN IMMEDIATE`` so that the write lock is taken up front and
waited for (busy timeout), instead of failing later when a deferred reader
tries to upgrade. Reads use plain deferred transactions and never block
writers thanks to WAL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from shipyard.errors import MissingDependency, StoreError

logger = logging.getLogger(__name__)

_WRITE_OPTION = "shipyard_write"


class Database:
    """Owns the engine and hands out read and write sessions."""

    def __init__(self, url: str, *, busy_timeout_s: float = 60.0) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StoreError(f"invalid database URL {url!r}: {exc}") from exc
        self.url = url
        self.dialect = parsed.get_backend_name()
        self.engine = self._create_engine(url, busy_timeout_s)

    def _create_engine(self, url: str, busy_timeout_s: float) -> Engine:
        parsed = make_url(url)
        try:
            if self.dialect == "sqlite":
                database = parsed.database or ""
                if database and database != ":memory:":
                    Path(database).parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(
                    url,
                    connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
                    poolclass=NullPool if database in ("", ":memory:") else None,
                )
                _configure_sqlite(engine, busy_timeout_s)
                return engine
            return create_engine(url, pool_pre_ping=True)
        except NoSuchModuleError as exc:
            raise StoreError(f"unsupported database URL {url!r}: {exc}") from exc
        except ModuleNotFoundError as exc:
            if "psycopg" in str(exc):
                raise MissingDependency("psycopg", "postgres") from exc
            raise

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction; commits on success, rolls back on error."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE_OPTION: True})
            with Session(bind=conn, expire_on_commit=False) as session:
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(bind=self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A Core connection in one write transaction (bulk inserts, migrations)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine, busy_timeout_s: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except Exception as exc:  # a read-only or network filesystem
            logger.warning("could not switch SQLite to WAL: %s", exc)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def describe_operational_error(exc: DBAPIError) -> str:
    """A one-line reason for a database that cannot be reached or used."""
    return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
