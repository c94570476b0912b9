"""Shared fixtures: the real knowledge base, repo paths, this run's tracker store, PostgreSQL
databases and Redis. Redis is the server at TEST_REDIS_URL (default db 15, a database of its own);
each test works under a fresh `beian:wechat:test-<random>:` prefix or its own keys and deletes only
those. Unreachable PostgreSQL or Redis: the tests fail when CI is set and are skipped otherwise."""
import os
import uuid
from pathlib import Path
from typing import Iterator, Optional

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


# --- Redis: the server at TEST_REDIS_URL (default db 15, a database of its own) --------------------

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_unreachable(url: str = REDIS_URL) -> Optional[str]:
    """None when Redis answers PING at `url`, else why not."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
        return None
    except redis.RedisError as exc:
        return f"Redis unreachable at {url}: {exc}"
    finally:
        client.close()


def require_redis() -> Optional[str]:
    """REDIS_URL when reachable; otherwise fail under CI, or return None (the caller skips)."""
    problem = redis_unreachable()
    if problem and os.environ.get("CI"):
        pytest.fail(f"{problem} (CI is set, so the Redis tests must run)", pytrace=False)
    return None if problem else REDIS_URL


def delete_prefix(prefix: str, url: str = REDIS_URL) -> None:
    """Delete every key under `prefix` (and nothing else) in the test database."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i:i + 500])
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = require_redis()
    if url is None:
        pytest.skip(redis_unreachable() or "Redis unreachable")
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own, deleted afterwards."""
    prefix = f"beian:wechat:test-{uuid.uuid4().hex[:10]}:"
    yield prefix
    delete_prefix(prefix, redis_url)


@pytest.fixture(scope="module")
def shared_redis() -> Iterator[Optional[tuple[str, str]]]:
    """(REDIS_URL, prefix) for servers a module starts, or None when Redis is unreachable outside CI
    (the servers then keep their state in memory and tests that need Redis skip)."""
    url = require_redis()
    if url is None:
        yield None
        return
    prefix = f"beian:wechat:test-{uuid.uuid4().hex[:10]}:"
    yield url, prefix
    delete_prefix(prefix, url)


# --- what a test needs beyond a set-up checkout ------------------------------------------------------
# `make check` runs `pytest -m "not needs_model and not needs_browser"`: the tests that need neither a
# trained model (models/current.tar.gz, made by `make train`) nor Chromium. `make test` runs them all.

NEEDS_MODEL_DIRS = ("e2e", "production")  # every test there talks to servers running the trained model
# Fixtures that start a Rasa server with the trained model (a test using one, even indirectly, needs it).
NEEDS_MODEL_FIXTURES = frozenset({
    "assistant",      # tests/e2e, tests/reports: the embedded shape
    "conversations",  # tests/reports: the assistant after known conversations
    "production",     # tests/production: replicas behind nginx
    "copilot",        # tests/channels/test_copilot.py: REST + copilot channels
    "servers",        # tests/channels/test_wechat_e2e.py: two Rasa servers with the WeChat channel
})


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    tests = Path(__file__).resolve().parent
    for item in items:
        path = Path(item.path).resolve()
        top = path.relative_to(tests).parts[0] if path.is_relative_to(tests) else ""
        fixtures = set(getattr(item, "fixturenames", ())) - set(getattr(getattr(item, "callspec", None), "params", ()))
        if top in NEEDS_MODEL_DIRS or NEEDS_MODEL_FIXTURES & fixtures:
            item.add_marker(pytest.mark.needs_model)
        if path.name.startswith("test_browser_"):
            item.add_marker(pytest.mark.needs_browser)
