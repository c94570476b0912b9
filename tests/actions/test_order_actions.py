import asyncio
import uuid
from datetime import datetime

from rasa_sdk.executor import CollectingDispatcher

from actions.form_moves import NOTE
from actions.handoff import ActionHumanHandoff, within_hours, CHINA
from actions.orders import ActionOrderStatus, ValidateOrderStatusForm
from bot.storage import repository
from bot.storage.db import session_scope
from bot.storage.models import utcnow
from tests.actions.helpers import run_action


def lookup(tracker_for, order_id, tail, failures=0, sender=None):
    """The digits arrive inside the lookup form (validation checks them), then the form's submit action."""
    slots = {"order_id": order_id, "requested_slot": "phone_tail", "lookup_failures": failures}
    tracker = tracker_for(tail, intent="ask_order_status", sender=sender or uuid.uuid4().hex, slots=slots)
    dispatcher = CollectingDispatcher()
    validated = asyncio.run(ValidateOrderStatusForm().validate_phone_tail(tail, dispatcher, tracker, {}))
    tracker.slots.update(validated)
    events = run_action(ActionOrderStatus(), dispatcher, tracker, {})
    texts = [m["text"] for m in dispatcher.messages] + [validated.get(NOTE) or ""]
    return "\n".join(texts), {**validated, **{e["name"]: e["value"] for e in events if e["event"] == "slot"}}


def test_right_digits_show_status_wait_and_next_step(tracker_for, app_database):
    text, slots = lookup(tracker_for, "ICP2026111200298", "9999")
    assert "管局驳回" in text and "官方" in text and "20个工作日" in text
    assert slots == {"phone_tail": "9999", "verified_order": "ICP2026111200298", "order_reply": None}


def test_a_lookup_reads_the_order_once(tracker_for, app_database):
    """The identity check's reading serves the reply: one SELECT of the order per lookup."""
    from sqlalchemy import event

    from bot.storage.db import get_engine

    reads = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT") and "FROM filing_orders" in statement:
            reads.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        text, _ = lookup(tracker_for, "ICP2026111200298", "9999")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert "管局驳回" in text
    assert len(reads) == 1


def test_wrong_digits_and_unknown_order_are_indistinguishable(tracker_for, app_database):
    wrong, slots = lookup(tracker_for, "ICP2026111200298", "0000")
    unknown, _ = lookup(tracker_for, "ICP2026010100009", "0000")
    assert wrong == unknown and "王书岚" not in wrong and "对不上" in wrong and "再试2次" in wrong
    assert slots["lookup_failures"] == 1 and slots["phone_tail"] is None and slots["verified_order"] is None


def test_third_failure_locks_and_locked_conversations_never_query(tracker_for, app_database):
    text, slots = lookup(tracker_for, "ICP2026111200298", "0000", failures=2)
    assert "暂停" in text and slots["lookup_failures"] == 3
    text, _ = lookup(tracker_for, "ICP2026111200298", "9999", failures=3)
    assert "暂停" in text and "管局驳回" not in text


def test_rate_limit_per_sender_is_shared_through_the_database(tracker_for, app_database, monkeypatch):
    from bot.config import get_settings

    monkeypatch.setenv("LOOKUP_RATE_LIMIT", "2")
    get_settings.cache_clear()
    sender = "enumerator"
    with session_scope(app_database) as session:
        for _ in range(2):
            repository.record_lookup(session, sender_id=sender, order_no="ICP2026010100001", succeeded=False,
                                     at=utcnow())
    text, _ = lookup(tracker_for, "ICP2026111200298", "9999", sender=sender)
    assert "暂停" in text and "管局驳回" not in text


def test_guessing_one_orders_tail_from_many_senders_is_stopped(tracker_for, app_database, monkeypatch):
    from bot.config import get_settings

    monkeypatch.setenv("LOOKUP_ORDER_RATE_LIMIT", "3")
    get_settings.cache_clear()
    for guess in ("0000", "0001", "0002"):  # each from a fresh conversation: the per-sender limit never trips
        text, _ = lookup(tracker_for, "ICP2026111200298", guess)
        assert "对不上" in text
    text, _ = lookup(tracker_for, "ICP2026111200298", "9999")  # the right tail, now refused
    assert "暂停" in text and "管局驳回" not in text
    other, _ = lookup(tracker_for, "ICP2026110900462", "8888")  # other orders are unaffected
    assert "暂停" not in other


def test_database_down_gives_an_honest_reply(tracker_for, unreachable_database):
    text, slots = lookup(tracker_for, "ICP2026111200298", "9999")
    assert "暂时查询不了" in text and "4000-955-988" in text and "管局" not in text.split("，")[0]
    assert slots == {"phone_tail": None, "form_move": "stop"}


def test_service_hours():
    at = lambda h, m=0: datetime(2026, 11, 30, h, m, tzinfo=CHINA)  # noqa: E731
    assert within_hours("09:00-21:00", at(9)) and within_hours("09:00-21:00", at(20, 59))
    assert not within_hours("09:00-21:00", at(21)) and not within_hours("09:00-21:00", at(3))
    assert within_hours("22:00-06:00", at(23)) and within_hours("22:00-06:00", at(5))
    assert not within_hours("22:00-06:00", at(12))


def test_outside_hours_says_so_and_offers_a_ticket(tracker_for, monkeypatch):
    from bot.config import get_settings

    now = datetime.now(CHINA)
    closed = f"{(now.hour + 2) % 24:02d}:00-{(now.hour + 3) % 24:02d}:00"
    monkeypatch.setenv("SERVICE_HOURS", closed)
    get_settings.cache_clear()
    dispatcher = CollectingDispatcher()
    events = ActionHumanHandoff().run(dispatcher, tracker_for("转人工", intent="request_human"), {})
    get_settings.cache_clear()
    message = dispatcher.messages[0]
    assert "不在人工服务时间" in message["text"] and closed in message["text"]
    assert message["buttons"] == [{"title": "提交工单", "payload": "/create_ticket"}]
    assert events == []
