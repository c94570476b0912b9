"""Fixtures for the report tests: a real assistant whose conversations fill a tracker store of its
own (so the counts are exact, whatever else the session ran), and empty PostgreSQL databases.

The servers are started once per session, as the copilot tests start theirs: the trained model,
the real action server, a fresh SQLite app database with the demo orders, and a credentials file
naming the channels under test (REST, socket.io, the reports page).
"""
from __future__ import annotations

from typing import Iterator

import pytest

from bot import serve
from bot.serve import free_port
from report_servers import CONVERSATIONS, CREDENTIALS, LOGS, MODEL, TOKEN, Assistant, wait_for_model


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
def conversations(assistant: Assistant) -> Assistant:
    """The assistant after the known conversations (sent once per session)."""
    for channel, sender, messages in CONVERSATIONS:
        for text in messages:
            if channel == "socketio":
                assistant.say_socketio(sender, text)
            else:
                assert assistant.say(sender, text), f"no answer to {text!r}"
    return assistant
