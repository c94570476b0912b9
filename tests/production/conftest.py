"""The production shape, started once for these tests: PostgreSQL (app tables and tracker store),
the Redis lock store, two Rasa replicas and one action server behind nginx running the shipped
deploy/nginx.conf (with the per-address limit raised: every test request comes from 127.0.0.1).

PostgreSQL and Redis are this machine's (127.0.0.1:5432 and :6379); when either is unreachable the
tests fail if CI is set and are skipped otherwise, like tests/storage.
"""
from __future__ import annotations

import time
import uuid

import pytest
import requests

from bot import shapes
from bot.config import ROOT

LOGS = ROOT / "artifacts" / "production"
SETTINGS = {"LOOKUP_RATE_LIMIT": "4", "LOOKUP_MAX_FAILURES": "2", "LOOKUP_ORDER_RATE_LIMIT": "3"}


@pytest.fixture(scope="session")
def services(pg_databases, redis_url) -> None:
    """This machine's PostgreSQL and Redis answer (those fixtures fail under CI, else skip), and a
    trained model exists."""
    if not shapes.MODEL.exists():
        pytest.fail(f"{shapes.MODEL} missing: run `make test` (it trains first)")


@pytest.fixture(scope="session")
def production(services):
    with shapes.started("production", replicas=2, env=SETTINGS, log_dir=LOGS) as running:
        yield running


class Replica:
    """A REST client bound to one address (a replica, or nginx: the public side)."""

    def __init__(self, base: str):
        self.base = base

    def say(self, sender: str, text: str, timeout: float = 30, tag: str = "") -> str:
        """The bot's reply to `text`; `tag` goes into the query string, to find the request in
        nginx's access log (the REST channel ignores it)."""
        r = requests.post(f"{self.base}/webhooks/rest/webhook" + (f"?t={tag}" if tag else ""),
                          json={"sender": sender, "message": text}, timeout=timeout)
        assert r.status_code == 200, r.text
        return "\n".join(m.get("text", "") for m in r.json())


@pytest.fixture
def replicas(production):
    return [Replica(u) for u in production.replicas]


@pytest.fixture
def public(production):
    """The public side: nginx."""
    return Replica(production.base)


@pytest.fixture
def served_by(production):
    """The replicas (host:port) that served the requests tagged `tag`, in the order nginx logged
    them; each entry lists every replica tried for that request (more than one: a failover)."""

    def read(tag: str, expect: int = 0) -> list:
        """nginx writes a request's line just after the response left: wait for `expect` lines."""
        deadline = time.monotonic() + 5
        while True:
            rows = [row["upstreams"] for row in production.access_log() if f"t={tag}" in row["request"]]
            if len(rows) >= expect or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)

    return read


@pytest.fixture
def new_sender():
    return lambda tag: f"prod-{tag}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def app_engine(production):
    from bot.storage.db import make_engine

    engine = make_engine(production.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def tickets_of(app_engine):
    """The ticket numbers stored for a sender, read straight from PostgreSQL."""
    from sqlalchemy import select

    from bot.storage.models import Ticket

    def read(sender: str) -> list:
        with app_engine.connect() as conn:
            return conn.execute(select(Ticket.ticket_no).where(Ticket.sender_id == sender)).scalars().all()

    return read
