import json
import logging
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.tickets import ActionCreateTicket, forward, normalize_contact
from bot.storage.db import session_scope
from bot.storage.models import Ticket
from tests.actions.helpers import run_action

HISTORY = [{"event": "user", "text": "帮我提个工单"}, {"event": "bot", "text": "请描述一下您遇到的问题"},
           {"event": "user", "text": "驳回了三次，看不懂原因"}]


def confirm(tracker_for, key, sender="ticket-user", **slots):
    tracker = tracker_for("确认", intent="affirm", sender=sender, events=HISTORY, slots={
        "ticket_key": key, "ticket_topic": "订单 ICP2026111200298", "ticket_description": "驳回了三次，看不懂原因",
        "ticket_contact": "13812345678", "ticket_confirmed": True, "order_id": "ICP2026111200298", **slots})
    dispatcher = CollectingDispatcher()
    events = run_action(ActionCreateTicket(), dispatcher, tracker, {})
    return dispatcher.messages[0]["text"], events


def stored(engine):
    with session_scope(engine) as session:
        return session.execute(select(Ticket)).scalars().all()


@pytest.mark.parametrize("raw, expected", [("138 1234 5678", "13812345678"), ("+86 139-1234-5678", "13912345678"),
                                           ("Me@Example.com", "me@example.com"), ("12345", None), ("1381234567", None),
                                           ("me@", None), ("<script>", None)])
def test_contact_is_a_mainland_mobile_or_an_email(raw, expected):
    assert normalize_contact(raw) == expected


def test_confirmed_ticket_is_stored_with_transcript_and_reported(tracker_for, app_database):
    text, events = confirm(tracker_for, uuid.uuid4().hex)
    [ticket] = stored(app_database)
    assert ticket.ticket_no in text and ticket.order_no == "ICP2026111200298"
    assert [line["text"] for line in ticket.transcript][-1] == "确认"
    assert {"event": "slot", "timestamp": None, "name": "ticket_no", "value": ticket.ticket_no} in events


def test_the_same_draft_confirmed_twice_is_one_ticket(tracker_for, app_database):
    key = uuid.uuid4().hex
    first, _ = confirm(tracker_for, key)
    second, _ = confirm(tracker_for, key)
    assert len(stored(app_database)) == 1
    assert stored(app_database)[0].ticket_no in first and stored(app_database)[0].ticket_no in second


def test_unconfirmed_draft_creates_nothing(tracker_for, app_database):
    tracker = tracker_for("不", intent="deny", slots={"ticket_confirmed": None})
    assert run_action(ActionCreateTicket(), CollectingDispatcher(), tracker, {}) == []
    assert stored(app_database) == []


def test_database_down_reports_failure_not_a_ticket(tracker_for, unreachable_database):
    text, events = confirm(tracker_for, uuid.uuid4().hex)
    assert "没有提交成功" in text and "4000-955-988" in text and "BA20" not in text
    assert {"event": "followup", "timestamp": None, "name": "ticket_form"} in events


class FakeHelpdesk(BaseHTTPRequestHandler):
    failures_left = 0
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if FakeHelpdesk.failures_left > 0:
            FakeHelpdesk.failures_left -= 1
            self.send_response(503)
        else:
            FakeHelpdesk.received.append(body)
            self.send_response(201)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def helpdesk():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHelpdesk)
    FakeHelpdesk.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tickets"
    server.shutdown()


def test_forwarding_retries_until_the_helpdesk_accepts(tracker_for, app_database, helpdesk):
    confirm(tracker_for, uuid.uuid4().hex)
    [ticket] = stored(app_database)
    FakeHelpdesk.failures_left = 2
    assert forward(ticket.id, helpdesk, attempts=3, backoff=0.01)
    [ticket] = stored(app_database)
    assert ticket.forwarded_at is not None and ticket.forward_attempts == 3 and ticket.forward_error is None
    assert FakeHelpdesk.received[0]["ticket_no"] == ticket.ticket_no


def test_a_helpdesk_that_stays_down_never_loses_the_ticket(tracker_for, app_database, helpdesk, caplog):
    confirm(tracker_for, uuid.uuid4().hex)
    [ticket] = stored(app_database)
    FakeHelpdesk.failures_left = 10
    with caplog.at_level(logging.WARNING):
        assert not forward(ticket.id, helpdesk, attempts=2, backoff=0.01)
    [ticket] = stored(app_database)
    assert ticket.forwarded_at is None and "503" in ticket.forward_error and ticket.forward_attempts == 2
    assert any("not forwarded" in r.getMessage() for r in caplog.records)
    assert "13812345678" not in caplog.text


def test_a_complaint_ticket_is_stored_as_such_and_first_in_line(tracker_for, app_database):
    text, _ = confirm(tracker_for, uuid.uuid4().hex, ticket_type="complaint")
    [ticket] = stored(app_database)
    assert (ticket.kind, ticket.priority) == ("complaint", "high")
    assert text.startswith("投诉工单已提交") and ticket.ticket_no in text


def test_an_ordinary_ticket_is_a_normal_question(tracker_for, app_database):
    confirm(tracker_for, uuid.uuid4().hex)
    [ticket] = stored(app_database)
    assert (ticket.kind, ticket.priority) == ("question", "normal")
