"""Fixtures for the report tests: a real assistant whose conversations fill a tracker store of its
own (so the counts are exact, whatever else the session ran), and empty PostgreSQL databases.

The servers are started once per session, as the copilot tests start theirs: the trained model,
the real action server, a fresh SQLite app database with the demo orders, and a credentials file
naming the channels under test (REST, socket.io, the reports page).
"""
from __future__ import annotations

import os
import uuid
from typing import Callable, Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from bot import serve
from bot.serve import free_port
from report_servers import CONVERSATIONS, CREDENTIALS, LOGS, MODEL, TOKEN, Assistant, wait_for_model

PG_SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def assistant(tmp_path_factory) -> Iterator[Assistant]:
    wait_for_model()
    from bot.storage.orders_csv import create_demo_database

    work = tmp_path_factory.mktemp("reports")
    database_url = f"sqlite:///{work / 'app.db'}"
    tracker_url = f"sqlite:///{work / 'tracker.db'}"
    assert create_demo_database(database_url).ok
    (work / "credentials.yml").write_text(CREDENTIALS, encoding="utf-8")
    actions_port, rasa_port = free_port(), free_port()
    env = {"RASA_ENDPOINTS": str(serve.endpoints_file(work, actions_port)), "DATABASE_URL": database_url,
           "TRACKER_STORE_URL": tracker_url, "SERVICE_HOURS": "00:00-23:59",
           "RASA_CREDENTIALS": str(work / "credentials.yml"), "COPILOT_TOKENS": TOKEN}
    processes = [serve.start_actions(actions_port, env, LOGS)]
    try:
        processes.append(serve.start_rasa(MODEL, rasa_port, env, LOGS))
        up = (serve.wait_http(f"http://127.0.0.1:{actions_port}/health", 120)
              and serve.wait_http(f"http://127.0.0.1:{rasa_port}/status", 240))
        if not up:
            pytest.fail(f"servers did not start; see {LOGS}")
        yield Assistant(f"http://127.0.0.1:{rasa_port}", tracker_url, database_url)
    finally:
        serve.stop(processes)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[Callable[[], URL]]:
    """A factory of empty PostgreSQL databases, dropped at the end; required when CI is set."""
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}, future=True)
    try:
        with admin.connect():
            pass
    except OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL unreachable at {PG_SERVER}: {str(exc.orig).strip()}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI is set, so the PostgreSQL tests must run)", pytrace=False)
        pytest.skip(message)
    names: list[str] = []

    def create() -> URL:
        name = f"beian_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        names.append(name)
        return make_url(PG_SERVER).set(database=name)

    yield create
    with admin.connect() as conn:
        for name in names:
            conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.dispose()


@pytest.fixture(scope="session")
def conversations(assistant: Assistant) -> Assistant:
    """The assistant after the known conversations (sent once per session)."""
    for channel, sender, messages in CONVERSATIONS:
        for text in messages:
            if channel == "socketio":
                assistant.say_socketio(sender, text)
            else:
                assert assistant.say(sender, text), f"no answer to {text!r}"
    return assistant
