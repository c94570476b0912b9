"""Engines and sessions, created when first asked for (never at import time).

`DATABASE_URL` picks the database; the default is the embedded SQLite file `var/app.db`.
"""
from __future__ import annotations

import asyncio
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, TypeVar, Union

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session

from bot.config import ROOT

T = TypeVar("T")

DEFAULT_URL = "sqlite:///var/app.db"
ALEMBIC_INI = ROOT / "alembic.ini"


def database_url(env: Optional[Mapping[str, str]] = None) -> URL:
    """The configured URL; a relative SQLite path is taken from the repo root, not the cwd,
    so the Rasa action server and the CLI open the same file wherever they were started."""
    env = os.environ if env is None else env
    url = make_url(env.get("DATABASE_URL") or DEFAULT_URL)
    path = _sqlite_file(url)
    return url.set(database=str(ROOT / path)) if path and not path.is_absolute() else url


def _sqlite_file(url: URL) -> Optional[Path]:
    """The file behind a SQLite URL (None for other backends and in-memory databases)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def make_engine(url: Union[str, URL], **kwargs: Any) -> Engine:
    """A 2.0-style engine; SQLite gets foreign keys, WAL and writer-serialising transactions."""
    url = make_url(url)
    if url.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)  # survive PostgreSQL restarts / idle disconnects
        return create_engine(url, future=True, **kwargs)

    engine = create_engine(url, future=True, **kwargs)
    file_db = _sqlite_file(url) is not None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite (its implicit BEGIN breaks SAVEPOINT).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if file_db:
            # Outside readers (sqlite3 shell, backups) and the writer don't block each other.
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # SQLite has one writer. Taking the write lock up front makes concurrent transactions
        # wait (busy timeout) instead of failing with SQLITE_BUSY when a reader tries to write.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine() -> Engine:
    """The process-wide engine for the current `DATABASE_URL` (one per distinct URL), made on
    first use; a SQLite file's folder (var/) is created then."""
    url = database_url()
    key = url.render_as_string(hide_password=False)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            path = _sqlite_file(url)
            if path:
                path.parent.mkdir(parents=True, exist_ok=True)
            engine = _engines[key] = make_engine(url)
        return engine


def dispose_engines() -> None:
    """Close and forget every engine get_engine() made (tests; after a fork)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(engine: Optional[Engine] = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception.

    Objects stay loaded after commit (expire_on_commit=False) so callers can still read them
    when building a reply, without a second round trip.
    """
    with Session(engine or get_engine(), future=True, expire_on_commit=False) as session:
        with session.begin():
            yield session


async def off_loop(work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking database work in a worker thread. Every action's database work goes through
    here, so a slow or stuck database delays only that action, never the action server's event loop
    (and with it every other conversation's FAQ answers)."""
    return await asyncio.to_thread(work, *args, **kwargs)


def ensure_database(url: Union[str, URL]) -> bool:
    """Create a PostgreSQL database that does not exist yet (True if created). Production's first
    `db init` then needs no manual CREATE DATABASE; SQLite files are created on connect anyway."""
    url = make_url(url)
    if url.get_backend_name() != "postgresql" or not url.database:
        return False
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as conn:
            if conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).scalar():
                return False
            conn.exec_driver_sql(f'CREATE DATABASE "{url.database.replace(chr(34), "")}"')
            return True
    finally:
        admin.dispose()


def migrate(engine: Optional[Engine] = None, revision: str = "head") -> None:
    """`alembic upgrade <revision>` on this engine, in-process (used by `db init` and the tests)."""
    _alembic("upgrade", engine, revision)


def downgrade(engine: Optional[Engine] = None, revision: str = "base") -> None:
    """`alembic downgrade <revision>` on this engine."""
    _alembic("downgrade", engine, revision)


def current_revision(engine: Optional[Engine] = None) -> Optional[str]:
    """The schema revision the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with (engine or get_engine()).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _alembic(command_name: str, engine: Optional[Engine], revision: str) -> None:
    # The connection is handed to env.py, so the engine's SQLite settings apply to migrations too
    # and no URL has to round-trip through alembic.ini (where "%" would need escaping).
    from alembic import command
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    with (engine or get_engine()).begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, command_name)(config, revision)
