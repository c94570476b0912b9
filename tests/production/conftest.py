"""The production shape, started once for these tests: PostgreSQL (app tables and tracker store),
the Redis lock store, two Rasa replicas and one action server behind the loopback balancer.

PostgreSQL and Redis are this machine's (127.0.0.1:5432 and :6379); when either is unreachable the
tests fail if CI is set and are skipped otherwise, like tests/storage.
"""
from __future__ import annotations

import os
import uuid

import pytest
import requests

from bot import shapes
from bot.config import ROOT

LOGS = ROOT / "artifacts" / "production"
SETTINGS = {"LOOKUP_RATE_LIMIT": "4", "LOOKUP_MAX_FAILURES": "2", "LOOKUP_ORDER_RATE_LIMIT": "3"}


def _services_or_skip() -> None:
    import redis
    from sqlalchemy import create_engine

    try:
        engine = create_engine(shapes.POSTGRES_SERVER, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        redis.Redis.from_url(shapes.REDIS_SERVER, socket_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach them means the same thing here
        message = f"PostgreSQL or Redis unreachable: {exc}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set, so the production tests must run)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def services() -> None:
    """This machine's PostgreSQL and Redis answer, and a trained model exists."""
    if not shapes.MODEL.exists():
        pytest.fail(f"{shapes.MODEL} missing: run `make test` (it trains first)")
    _services_or_skip()


@pytest.fixture(scope="session")
def production(services):
    with shapes.started("production", replicas=2, env=SETTINGS, log_dir=LOGS) as running:
        yield running


class Replica:
    """A REST client bound to one address (a replica or the balancer)."""

    def __init__(self, base: str):
        self.base = base

    def say(self, sender: str, text: str, timeout: float = 30) -> str:
        r = requests.post(f"{self.base}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                          timeout=timeout)
        assert r.status_code == 200, r.text
        return "\n".join(m.get("text", "") for m in r.json())


@pytest.fixture
def replicas(production):
    return [Replica(u) for u in production.replicas]


@pytest.fixture
def balancer(production):
    return Replica(production.base)


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
