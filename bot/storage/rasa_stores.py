"""Rasa's tracker store and lock store, chosen from the environment (one endpoints.yml for all).

Embedded default: conversations in the SQLite file `var/tracker.db`, locks in memory (one Rasa
process). Production: `TRACKER_STORE_URL=postgresql://…` and `REDIS_URL=redis://…`, so that
several stateless Rasa replicas share conversations (Rasa's SQLTrackerStore) and never process two
messages of one conversation at once (Rasa's RedisLockStore). Both are Rasa's own stores; these
classes only read their settings from the environment, which Rasa's `${VAR}` syntax cannot default.
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Optional, Text
from urllib.parse import urlsplit

from rasa.core.lock import TicketLock
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy.engine import make_url

from bot.config import ROOT

DEFAULT_TRACKER_URL = "sqlite:///var/tracker.db"
LOCK_KEY_PREFIX = "beian"


def tracker_store_url(env: Optional[Mapping[str, str]] = None) -> str:
    """`TRACKER_STORE_URL`, a relative SQLite path taken from the repo root (like DATABASE_URL)."""
    env = os.environ if env is None else env
    url = make_url(env.get("TRACKER_STORE_URL") or DEFAULT_TRACKER_URL)
    if url.get_backend_name() == "sqlite" and url.database and not os.path.isabs(url.database):
        (ROOT / url.database).parent.mkdir(parents=True, exist_ok=True)
        url = url.set(database=str(ROOT / url.database))
    return url.render_as_string(hide_password=False)


class EnvSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQLTrackerStore on `TRACKER_STORE_URL` (default: SQLite `var/tracker.db`)."""

    def __init__(self, domain: Any = None, host: Optional[Text] = None, event_broker: Any = None,
                 **kwargs: Any) -> None:
        kwargs.pop("url", None)
        super().__init__(domain=domain, host=tracker_store_url(), event_broker=event_broker, **kwargs)
        if self.engine.dialect.name == "sqlite":
            # A pooled WAL engine instead of Rasa's connection per query: a guarded patch of Rasa's
            # internals, with the measurements, in bot/patches.py.
            from bot import patches

            patches.tune_sqlite_tracker_store(self)


def redis_lock_settings(url: str) -> dict:
    """RedisLockStore's keyword arguments from a `redis://[:password@]host[:port][/db]` URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ValueError(f"REDIS_URL must look like redis://host:6379/0, not {url!r}")
    db = parts.path.strip("/")
    return {
        "host": parts.hostname,
        "port": parts.port or 6379,
        "db": int(db) if db else 0,
        "username": parts.username or None,
        "password": parts.password or None,
        "use_ssl": parts.scheme == "rediss",
        "key_prefix": LOCK_KEY_PREFIX,
    }


class EnvLockStore(LockStore):
    """Rasa's RedisLockStore when `REDIS_URL` is set, else its InMemoryLockStore.

    Rasa builds a custom lock store as `cls(endpoint_config=…)`; this one delegates the three
    storage methods and keeps Rasa's own locking logic (LockStore.lock) untouched.
    """

    def __init__(self, endpoint_config: Any = None, env: Optional[Mapping[str, str]] = None) -> None:
        env = os.environ if env is None else env
        url = env.get("REDIS_URL", "")
        self.inner: LockStore = RedisLockStore(**redis_lock_settings(url)) if url else InMemoryLockStore()
        super().__init__()

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        return self.inner.get_lock(conversation_id)

    def delete_lock(self, conversation_id: Text) -> None:
        self.inner.delete_lock(conversation_id)

    def save_lock(self, lock: TicketLock) -> None:
        self.inner.save_lock(lock)
