"""The action server runs the outbox worker: started with `rasa run actions` (bot.serve.start_actions,
as `make run`, `make prod` and the container start it), it delivers a ticket left pending by an
earlier process at start-up, and a ticket stored through the running server's action right away."""
from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest
from sqlalchemy.engine import make_url

from bot.serve import free_port, start_actions, wait_http
from bot.storage import repository
from bot.storage.db import make_engine, migrate, session_scope
from tests.storage.helpdesk import FakeHelpdesk


def _call(port: int, action: str, slots: dict, sender: str) -> dict:
    """One action call in the shape Rasa sends."""
    tracker = {"sender_id": sender, "slots": slots, "latest_message": {"text": "确认", "intent": {"name": "affirm"},
               "entities": []}, "events": [{"event": "user", "text": "确认"}], "paused": False,
               "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"}
    body = json.dumps({"next_action": action, "sender_id": sender, "tracker": tracker, "domain": {},
                       "version": "3.6.2"}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/webhook", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.mark.e2e
def test_the_action_server_delivers_pending_tickets_at_start_up_and_new_ones_at_once(tmp_path):
    url = make_url(f"sqlite:///{tmp_path / 'app.db'}")
    engine = make_engine(url)
    migrate(engine)
    left_pending = uuid.uuid4().hex
    with session_scope(engine) as session:  # stored by a process that died before forwarding it
        ticket = repository.create_ticket(session, idempotency_key=left_pending, sender_id="s", topic="备案咨询",
                                          description="驳回了三次", contact="13812345678")
        repository.enqueue_ticket_delivery(session, ticket=ticket)

    with FakeHelpdesk() as helpdesk:
        port = free_port()
        env = {"DATABASE_URL": str(url), "HELPDESK_WEBHOOK_URL": helpdesk.url, "OUTBOX_INTERVAL_SECONDS": "300"}
        server = start_actions(port, env=env, log_dir=tmp_path)
        try:
            assert wait_http(f"http://127.0.0.1:{port}/health", 120), (tmp_path / "actions.log").read_text()
            assert helpdesk.wait_for_requests(1, timeout=30), (tmp_path / "actions.log").read_text()
            assert helpdesk.requests[0]["key"] == left_pending

            # A ticket confirmed through the running server is forwarded at once (not at the next
            # interval, 300 s away): the action wakes its process's worker.
            key = uuid.uuid4().hex
            started = time.monotonic()
            _call(port, "action_create_ticket", {"ticket_confirmed": True, "ticket_key": key,
                                                 "ticket_description": "管局驳回了", "ticket_contact": "13812345678"},
                  sender="s2")
            assert helpdesk.wait_for_requests(2, timeout=20), (tmp_path / "actions.log").read_text()
            assert helpdesk.requests[1]["key"] == key and time.monotonic() - started < 20
        finally:
            server.terminate()
            server.wait(30)
    assert set(helpdesk.tickets) == {left_pending, key}
    engine.dispose()
