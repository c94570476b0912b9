"""Rasa's tracker store and lock store, chosen from the environment (one endpoints.yml for all).

Embedded default: conversations in the SQLite file `var/tracker.db`, locks in memory (one Rasa
process). Production: `TRACKER_STORE_URL=postgresql://…` and `REDIS_URL=redis://…`, so that
several stateless Rasa replicas share conversations (Rasa's SQLTrackerStore) and never process two
messages of one conversation at once (Rasa's RedisLockStore). Both are Rasa's own stores; these
classes read their settings from the environment, which Rasa's `${VAR}` syntax cannot default, and
EnvLockStore makes the lock's read-change-write atomic between replicas (see there).
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockStore, RedisLockStore
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

    def __init__(self, domain: Any = None, host: Optional[str] = None, event_broker: Any = None,
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
    storage methods and keeps Rasa's own locking logic (LockStore.lock: a ticket per message,
    served in turn).

    What it adds: Rasa changes a ticket lock by reading it, changing it and writing it back
    (`issue_ticket`, `finish_serving`, `update_lock`, `cleanup`), which is atomic in one process
    but not between replicas sharing Redis. Two messages of one sender arriving at two replicas in
    the same millisecond both got ticket 0 and were processed at once, and a cleanup could delete
    the lock another replica had just taken a ticket on: seen in tests/production/test_nginx.py as
    turns missing from the tracker (5 to 7 of 8 messages kept). Each of these changes now runs
    under a short Redis mutex of its conversation's own (SET NX with expiry, redis-py's Lock).
    """

    MUTEX_SECONDS = 5  # the mutex expires on its own if its holder dies mid-change

    def __init__(self, endpoint_config: Any = None, env: Optional[Mapping[str, str]] = None) -> None:
        env = os.environ if env is None else env
        url = env.get("REDIS_URL", "")
        self.inner: LockStore = RedisLockStore(**redis_lock_settings(url)) if url else InMemoryLockStore()
        super().__init__()

    def _exclusive(self, conversation_id: str) -> Any:
        """Held while a ticket lock is read, changed and written back. In memory, one process's
        synchronous read-change-write is already atomic."""
        if isinstance(self.inner, RedisLockStore):
            return self.inner.red.lock(f"{self.inner.key_prefix}{conversation_id}:mutex", timeout=self.MUTEX_SECONDS,
                                       sleep=0.002, blocking_timeout=self.MUTEX_SECONDS)
        return contextlib.nullcontext()

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        with self._exclusive(conversation_id):
            return super().issue_ticket(conversation_id, lock_lifetime)

    def update_lock(self, conversation_id: str) -> None:
        with self._exclusive(conversation_id):
            super().update_lock(conversation_id)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        with self._exclusive(conversation_id):
            super().finish_serving(conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Rasa's cleanup (finish serving, delete the lock when nobody waits) as one change."""
        with self._exclusive(conversation_id):
            LockStore.finish_serving(self, conversation_id, ticket_number)
            if not self.is_someone_waiting(conversation_id):
                self.delete_lock(conversation_id)

    def get_lock(self, conversation_id: str) -> Optional[TicketLock]:
        return self.inner.get_lock(conversation_id)

    def delete_lock(self, conversation_id: str) -> None:
        self.inner.delete_lock(conversation_id)

    def save_lock(self, lock: TicketLock) -> None:
        self.inner.save_lock(lock)
