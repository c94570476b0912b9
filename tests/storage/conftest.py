"""Storage fixtures: every database test runs on SQLite (a temp file) and on PostgreSQL.

PostgreSQL is the server at TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres);
each test session works in fresh `beian_test_<random>` databases and drops them at the end.
If the server cannot be reached, the PostgreSQL tests fail when CI is set and are skipped otherwise.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest
from sqlalchemy.engine import URL, Engine, make_url

from bot.storage import db
from bot.storage.db import make_engine, migrate
from bot.storage.models import metadata

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def empty_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> URL:
    """The URL of a brand-new database with no tables in it."""
    if backend == "sqlite":
        return make_url(f"sqlite:///{tmp_path / 'empty.db'}")
    return request.getfixturevalue("pg_databases")()


@pytest.fixture
def empty_engine(empty_url: URL) -> Iterator[Engine]:
    engine = make_engine(empty_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _schema_engines() -> Iterator[dict[str, Engine]]:
    """One migrated database per backend, shared by the session (migrating per test is slow)."""
    engines: dict[str, Engine] = {}
    yield engines
    for engine in engines.values():
        engine.dispose()


@pytest.fixture
def engine(backend: str, request: pytest.FixtureRequest, _schema_engines: dict[str, Engine],
           tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """A migrated database with empty tables."""
    if backend not in _schema_engines:
        if backend == "sqlite":
            url = make_url(f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'app.db'}")
        else:
            url = request.getfixturevalue("pg_databases")()
        new = make_engine(url)
        migrate(new)
        _schema_engines[backend] = new
    engine = _schema_engines[backend]
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        if backend == "postgresql":
            conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
        else:
            for table in tables:
                conn.exec_driver_sql(f"DELETE FROM {table}")
    return engine


@pytest.fixture
def database_url_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[URL], None]]:
    """Point DATABASE_URL (and so get_engine) at a test database; its engines are closed after."""
    def point(url: URL) -> None:
        monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))

    yield point
    db.dispose_engines()
