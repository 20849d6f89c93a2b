"""Shared fixtures: a workspace per test, on SQLite and on the machine's PostgreSQL.

PostgreSQL tests get a private schema (dropped afterwards) in the database
named by ``SHIPYARD_TEST_PG_URL``. When the server is unreachable they skip
with the reason, except under ``CI``, where they fail: CI must run them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard import Client
from shipyard.config import StoreSettings

PG_URL = os.environ.get("SHIPYARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_unreachable_reason() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'shipyard[postgres]')"
    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return f"PostgreSQL at {PG_URL} is unreachable: {str(exc).strip().splitlines()[0]}"
    return None


@pytest.fixture(scope="session")
def pg_available() -> str:
    reason = _pg_unreachable_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so PostgreSQL tests must run, but {reason}")
        pytest.skip(reason)
    return PG_URL


@pytest.fixture
def pg_schema_url(pg_available: str) -> Iterator[str]:
    """A database URL whose search_path is a fresh schema, dropped after the test."""
    import psycopg

    schema = f"shipyard_test_{uuid.uuid4().hex[:12]}"
    dsn = pg_available.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{pg_available}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> StoreSettings:
    """Workspace settings for the parametrized back end."""
    db_url = None
    if backend == "postgresql":
        db_url = request.getfixturevalue("pg_schema_url")
    return StoreSettings(home=tmp_path / "ws", db_url=db_url, user="tester")


@pytest.fixture
def client(settings: StoreSettings) -> Iterator[Client]:
    with Client(settings=settings) as c:
        yield c


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Iterator[Client]:
    """A client on SQLite only, for tests that are not about the store."""
    with Client(settings=StoreSettings(home=tmp_path / "ws", user="tester")) as c:
        yield c


@pytest.fixture(scope="session")
def breast_cancer():
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True, as_frame=True)


@pytest.fixture(scope="session")
def fitted_pipeline(breast_cancer):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = breast_cancer
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)


def bearer(client: Client, role: str = "admin", **scope: object) -> dict[str, str]:
    """Headers with a fresh token of ``role`` (servers require one, as users' do)."""
    token = client.create_token(f"test-{uuid.uuid4().hex[:8]}", role, **scope)  # type: ignore[arg-type]
    return {"authorization": f"Bearer {token.token}"}
