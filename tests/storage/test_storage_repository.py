"""Orders, lookup attempts and tickets through the repository functions, on both backends."""
from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, StatementError

from bot.storage.db import session_scope
from bot.storage.models import CHINA_TZ, STATUS_CODES, STATUSES, FilingOrder, LookupAttempt, Ticket
from bot.storage.repository import (
    create_ticket, get_order, next_ticket_no, record_lookup, recent_failures, upsert_order,
)

NOW = datetime(2026, 11, 30, 6, 0, tzinfo=timezone.utc)
ORDER = dict(order_no="ICP2026110400318", subject_name="深圳市蓝鲸湾电子商务有限公司", subject_type="company",
             phone="13700001212", province="广东", status="bureau_review", status_detail="已提交管局",
             submitted_at=datetime(2026, 11, 4, 10, 2, tzinfo=CHINA_TZ),
             updated_at=datetime(2026, 11, 21, 16, 30, tzinfo=CHINA_TZ))


def _ticket(session, key: str, now: datetime = NOW, **extra) -> Ticket:
    fields = dict(sender_id="user-1", topic="订单查询", order_no="ICP2026110400318",
                  description="管局审核很久没有结果", contact="13812345678",
                  transcript=[{"user": "我的备案卡在管局了"}, {"bot": "请提供订单号"}], now=now)
    fields.update(extra)
    return create_ticket(session, idempotency_key=key, **fields)


def _count(engine, model) -> int:
    with session_scope(engine) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_statuses_are_the_eight_codes_with_their_labels():
    assert STATUS_CODES == ("draft", "provider_review", "provider_rejected", "sms_verification",
                            "bureau_review", "bureau_rejected", "approved", "cancelled")
    assert dict(STATUSES)["provider_review"] == "华为云初审中"
    assert dict(STATUSES)["cancelled"] == "已撤销/已放弃"


def test_upsert_inserts_then_updates_and_get_finds_it_in_any_case(engine):
    with session_scope(engine) as session:
        upsert_order(session, **ORDER)
    with session_scope(engine) as session:
        upsert_order(session, order_no="icp2026110400318", status="approved", icp_number="粤ICP备20260318号")

    with session_scope(engine) as session:
        order = get_order(session, " icp2026110400318 ")
        assert order is not None and get_order(session, "ICP2026110400319") is None
    assert _count(engine, FilingOrder) == 1
    assert (order.status, order.status_label, order.icp_number) == ("approved", "备案成功", "粤ICP备20260318号")
    assert order.subject_name == ORDER["subject_name"]  # fields not given are kept
    # Times come back aware, in UTC, equal to what was stored.
    assert order.submitted_at == ORDER["submitted_at"]
    assert order.submitted_at.tzinfo == timezone.utc


def test_upsert_rejects_unknown_fields_statuses_and_naive_times(engine):
    with session_scope(engine) as session:
        with pytest.raises(TypeError, match="colour"):
            upsert_order(session, **ORDER, colour="red")
        with pytest.raises(ValueError, match="unknown status"):
            upsert_order(session, **{**ORDER, "status": "pending"})
    with pytest.raises(StatementError, match="naive datetime"):  # refused when bound, before SQL
        with session_scope(engine) as session:
            upsert_order(session, **{**ORDER, "submitted_at": datetime(2026, 11, 4, 10, 2)})
    assert _count(engine, FilingOrder) == 0


def test_database_enforces_unique_order_numbers(engine):
    with pytest.raises(IntegrityError):
        with session_scope(engine) as session:
            session.add_all([FilingOrder(**ORDER), FilingOrder(**ORDER)])


def test_recent_failures_counts_only_this_senders_failures_inside_the_window(engine):
    with session_scope(engine) as session:
        for minutes_ago, sender, ok in [(1, "a", False), (5, "a", False), (9, "a", False), (11, "a", False),
                                        (2, "a", True), (3, "b", False), (120, "a", False)]:
            record_lookup(session, sender_id=sender, order_no="20261104-2271", succeeded=ok,
                          at=NOW - timedelta(minutes=minutes_ago))
        record_lookup(session, sender_id="a", order_no=None, succeeded=False, at=NOW)

    with session_scope(engine) as session:
        assert recent_failures(session, sender_id="a", since=NOW - timedelta(minutes=10)) == 4
        assert recent_failures(session, sender_id="a", since=NOW - timedelta(hours=3)) == 6
        assert recent_failures(session, sender_id="b", since=NOW - timedelta(minutes=10)) == 1
        assert recent_failures(session, sender_id="c", since=NOW - timedelta(minutes=10)) == 0
        # The window boundary is the same instant in any zone.
        assert recent_failures(session, sender_id="a", since=(NOW - timedelta(minutes=10)).astimezone(CHINA_TZ)) == 4
    assert _count(engine, LookupAttempt) == 8
    with session_scope(engine) as session:
        # Per order, from anyone (a client that rotates its sender id); the order key is normalised.
        assert recent_failures(session, order_no="20261104-2271", since=NOW - timedelta(minutes=10)) == 4
        assert recent_failures(session, order_no="20261104-2271", since=NOW - timedelta(hours=3)) == 6
        with pytest.raises(ValueError):
            recent_failures(session, since=NOW)


def test_same_idempotency_key_twice_gives_one_ticket(engine):
    with session_scope(engine) as session:
        first = _ticket(session, "conv-1:confirm-3")
    with session_scope(engine) as session:
        again = _ticket(session, "conv-1:confirm-3", description="双击了一次")

    assert again.ticket_no == first.ticket_no == "BA20261130-0001"
    assert again.description == "管局审核很久没有结果"
    assert again.transcript == [{"user": "我的备案卡在管局了"}, {"bot": "请提供订单号"}]
    assert _count(engine, Ticket) == 1


def test_ticket_numbers_count_up_per_china_calendar_day(engine):
    day1 = datetime(2026, 11, 29, 3, 0, tzinfo=timezone.utc)
    late = datetime(2026, 11, 29, 16, 30, tzinfo=timezone.utc)  # already 00:30 on 11-30 in China
    with session_scope(engine) as session:
        numbers = [_ticket(session, "k1", day1).ticket_no, _ticket(session, "k2", day1).ticket_no,
                   _ticket(session, "k3", late).ticket_no, _ticket(session, "k4", day1).ticket_no,
                   _ticket(session, "k5", NOW).ticket_no]
        assert next_ticket_no(session, date(2026, 11, 29)) == "BA20261129-0004"
        assert next_ticket_no(session, date(2026, 12, 1)) == "BA20261201-0001"
    assert numbers == ["BA20261129-0001", "BA20261129-0002", "BA20261130-0001", "BA20261129-0003",
                       "BA20261130-0002"]
    with session_scope(engine) as session:
        assert _ticket(session, "k6", NOW).created_at == NOW


def _in_threads(engine, keys: list[str]) -> list[str]:
    barrier = threading.Barrier(len(keys))
    results: list = [None] * len(keys)

    def work(i: int) -> None:
        try:
            barrier.wait(5)
            with session_scope(engine) as session:
                results[i] = _ticket(session, keys[i], sender_id=f"thread-{i}").ticket_no
        except Exception as exc:  # reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(keys))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(isinstance(r, str) for r in results), results
    return results


def test_concurrent_confirmations_with_one_key_store_one_ticket(engine):
    numbers = _in_threads(engine, ["double-click"] * 6)
    assert set(numbers) == {"BA20261130-0001"}
    assert _count(engine, Ticket) == 1


def test_concurrent_tickets_with_different_keys_get_distinct_numbers(engine):
    numbers = _in_threads(engine, [f"key-{i}" for i in range(6)])
    assert sorted(numbers) == [f"BA20261130-{i:04d}" for i in range(1, 7)]


def _wait_for_lock_wait(engine) -> None:
    """Block until another session is waiting on a row lock (PostgreSQL) or the write lock (SQLite)."""
    if engine.dialect.name != "postgresql":
        time.sleep(0.3)  # SQLite shows no lock waits; the thread is parked on BEGIN IMMEDIATE
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            waiting = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'").scalar_one()
        if waiting:
            return
        time.sleep(0.02)
    pytest.fail("the second confirmation never waited on the first one's insert")


@pytest.mark.parametrize("second_at", [NOW, NOW + timedelta(days=1)], ids=["same-day", "next-day"])
def test_a_confirmation_racing_an_uncommitted_one_returns_that_ticket_and_keeps_its_own_work(engine, second_at):
    """The second confirmation waits for the first (same day: the numbering lock; next day: the
    unique key, whose violation is caught in a savepoint), returns the first one's ticket, and
    the rest of its transaction (here a lookup record) is kept."""
    result: dict = {}

    def second() -> None:
        try:
            with session_scope(engine) as session:
                record_lookup(session, sender_id="user-1", order_no=None, succeeded=True, at=NOW)
                result["ticket_no"] = _ticket(session, "retry-key", second_at).ticket_no
        except Exception as exc:
            result["error"] = exc

    with session_scope(engine) as session:
        first = _ticket(session, "retry-key")
        session.flush()
        thread = threading.Thread(target=second)
        thread.start()
        _wait_for_lock_wait(engine)
    thread.join(30)

    assert result == {"ticket_no": first.ticket_no}
    assert _count(engine, Ticket) == 1
    assert _count(engine, LookupAttempt) == 1
