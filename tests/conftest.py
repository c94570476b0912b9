"""Shared fixtures: the real knowledge base, repo paths, this run's tracker store, PostgreSQL databases."""
import os
from pathlib import Path

import pytest

from bot.config import ROOT
from bot.faq.kb import load_kb


@pytest.fixture(scope="session")
def kb():
    return load_kb(ROOT / "faq")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session", autouse=True)
def _own_tracker_store(tmp_path_factory):
    """Servers started by the tests keep their conversations in this run's own SQLite file,
    not in the developer's var/tracker.db (a test may still pass TRACKER_STORE_URL itself)."""
    import os

    previous = os.environ.get("TRACKER_STORE_URL")
    if previous is None:
        os.environ["TRACKER_STORE_URL"] = f"sqlite:///{tmp_path_factory.mktemp('tracker') / 'tracker.db'}"
    yield
    if previous is None:
        os.environ.pop("TRACKER_STORE_URL", None)


@pytest.fixture(scope="session")
def pg_databases():
    """A factory of empty PostgreSQL databases (SQLAlchemy URLs) on TEST_POSTGRES_URL's server, all
    dropped when the session ends. Unreachable: the tests fail when CI is set, else are skipped."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from bot.shapes import POSTGRES_SERVER, create_postgres, drop_postgres

    admin = create_engine(POSTGRES_SERVER, connect_args={"connect_timeout": 3}, future=True)
    try:
        with admin.connect():
            pass
    except OperationalError as exc:
        message = f"PostgreSQL unreachable at {POSTGRES_SERVER}: {str(exc.orig).strip()}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set, so the PostgreSQL tests must run)", pytrace=False)
        pytest.skip(message)
    finally:
        admin.dispose()
    names: list = []
    yield lambda: make_url(create_postgres(names, prefix="beian_test"))
    drop_postgres(names)
