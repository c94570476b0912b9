"""Fixtures for the report tests: a real assistant whose conversations fill a tracker store of its
own (so the counts are exact, whatever else the session ran), and empty PostgreSQL databases.

The servers are started once per session in the embedded shape (bot.shapes: the trained model, the
real action server, fresh SQLite app and tracker databases with the demo orders), with a credentials
file naming the channels under test (REST, socket.io, the reports page).
"""
from __future__ import annotations

from typing import Iterator

import pytest

from bot import shapes
from report_servers import CONVERSATIONS, CREDENTIALS, LOGS, MODEL, TOKEN, Assistant


@pytest.fixture(scope="session")
def assistant(tmp_path_factory) -> Iterator[Assistant]:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} missing: run `make test` (it trains first)")
    credentials = tmp_path_factory.mktemp("reports") / "credentials.yml"
    credentials.write_text(CREDENTIALS, encoding="utf-8")
    env = {"RASA_CREDENTIALS": str(credentials), "COPILOT_TOKENS": TOKEN}
    with shapes.started("embedded", model=MODEL, env=env, log_dir=LOGS) as running:
        yield Assistant(running.base, running.tracker_url, running.database_url)


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
