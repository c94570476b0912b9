import uuid

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.tickets import ActionCreateTicket, normalize_contact
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


def test_with_a_helpdesk_the_ticket_and_its_pending_delivery_are_stored_together(tracker_for, app_database,
                                                                                 monkeypatch):
    """The forwarding itself is the outbox worker's (tests/storage/test_outbox.py)."""
    from bot.config import get_settings
    from bot.storage.models import OutboxDelivery

    monkeypatch.setenv("HELPDESK_WEBHOOK_URL", "http://127.0.0.1:9/tickets")
    get_settings.cache_clear()
    key = uuid.uuid4().hex
    confirm(tracker_for, key)
    confirm(tracker_for, key)  # confirmed twice: one ticket, one delivery
    with session_scope(app_database) as session:
        [delivery] = session.execute(select(OutboxDelivery)).scalars().all()
        [ticket] = session.execute(select(Ticket)).scalars().all()
    assert (delivery.ticket_id, delivery.status, delivery.idempotency_key) == (ticket.id, "pending", key)


def test_without_a_helpdesk_nothing_is_queued(tracker_for, app_database):
    from bot.storage.models import OutboxDelivery

    confirm(tracker_for, uuid.uuid4().hex)
    with session_scope(app_database) as session:
        assert session.execute(select(OutboxDelivery)).scalars().all() == []


def test_a_complaint_ticket_is_stored_as_such_and_first_in_line(tracker_for, app_database):
    text, _ = confirm(tracker_for, uuid.uuid4().hex, ticket_type="complaint")
    [ticket] = stored(app_database)
    assert (ticket.kind, ticket.priority) == ("complaint", "high")
    assert text.startswith("投诉工单已提交") and ticket.ticket_no in text


def test_an_ordinary_ticket_is_a_normal_question(tracker_for, app_database):
    confirm(tracker_for, uuid.uuid4().hex)
    [ticket] = stored(app_database)
    assert (ticket.kind, ticket.priority) == ("question", "normal")
