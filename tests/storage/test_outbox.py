"""Ticket forwarding as a durable outbox (bot/outbox.py), on SQLite and PostgreSQL, against a fake
helpdesk on 127.0.0.1 that keeps one ticket per idempotency key.

The contract under test: a ticket and its delivery are stored together; deliveries are retried with
backoff and survive restarts; two workers never send one row at the same time; delivery is
at-least-once, so a worker killed after the helpdesk got the POST makes a second POST with the same
key after restart, and the helpdesk (deduplicating on the key) keeps exactly one ticket.
"""
from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import ROOT, Settings
from bot.outbox import OutboxWorker, backoff_seconds
from bot.storage import repository
from bot.storage.db import make_engine, session_scope
from bot.storage.models import OutboxDelivery, Ticket, utcnow
from tests.storage.helpdesk import FakeHelpdesk

FAST = dataclasses.replace(Settings(), helpdesk_timeout_seconds=2.0, outbox_interval_seconds=5.0,
                           outbox_backoff_seconds=0.2, outbox_backoff_cap_seconds=1.0, outbox_lease_seconds=30.0,
                           outbox_max_attempts=0)


def store_ticket(engine, *, with_delivery: bool = True) -> str:
    """A stored ticket (and its delivery), as actions.tickets.store_ticket writes them; its key."""
    key = uuid.uuid4().hex
    with session_scope(engine) as session:
        ticket = repository.create_ticket(session, idempotency_key=key, sender_id="s", topic="备案咨询",
                                          description="驳回了三次", contact="13812345678",
                                          transcript=[{"who": "user", "text": "帮我提个工单"}])
        if with_delivery:
            repository.enqueue_ticket_delivery(session, ticket=ticket)
    return key


def delivery(engine, key: str) -> OutboxDelivery:
    with session_scope(engine) as session:
        return session.execute(select(OutboxDelivery).where(OutboxDelivery.idempotency_key == key)).scalar_one()


def ticket(engine, key: str) -> Ticket:
    with session_scope(engine) as session:
        return repository.get_ticket(session, idempotency_key=key)


async def run_until(worker: OutboxWorker, done, timeout: float) -> None:
    """Run the worker's loop until `done()` (checked off the loop) or fail after `timeout` s."""
    task = asyncio.create_task(worker.run())
    try:
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(done):
            assert time.monotonic() < deadline, "the worker did not get there in time"
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await asyncio.wait_for(task, 10)


@pytest.fixture
def helpdesk():
    with FakeHelpdesk() as desk:
        yield desk


# --- the pieces ---------------------------------------------------------------------------------------

def test_backoff_doubles_from_the_base_up_to_the_cap():
    assert [backoff_seconds(n, base=10, cap=100) for n in range(0, 7)] == [0, 10, 20, 40, 80, 100, 100]
    assert backoff_seconds(10_000, base=10, cap=3600) == 3600  # no overflow after months of failures


def test_the_lease_must_outlast_a_claimed_batch():
    with pytest.raises(ValueError, match="OUTBOX_LEASE_SECONDS"):
        OutboxWorker("http://127.0.0.1:9/", settings=dataclasses.replace(FAST, outbox_lease_seconds=5.0), batch=5)


def test_a_ticket_and_its_delivery_are_stored_in_one_transaction(engine):
    with pytest.raises(RuntimeError):
        with session_scope(engine) as session:
            stored = repository.create_ticket(session, idempotency_key="k1", sender_id="s", topic="t",
                                              description="d", contact="c")
            repository.enqueue_ticket_delivery(session, ticket=stored)
            raise RuntimeError("the process fails before commit")
    with session_scope(engine) as session:
        assert session.execute(select(Ticket)).first() is None
        assert session.execute(select(OutboxDelivery)).first() is None
    key = store_ticket(engine)
    with session_scope(engine) as session:  # queued again (a repeated confirmation): still one delivery
        repository.enqueue_ticket_delivery(session, ticket=repository.get_ticket(session, idempotency_key=key))
        [row] = session.execute(select(OutboxDelivery)).scalars().all()
    assert (row.status, row.attempts, row.idempotency_key) == ("pending", 0, key)


# --- delivery, retries, restarts ------------------------------------------------------------------------

async def test_a_failing_helpdesk_is_retried_with_backoff_until_it_accepts(engine, helpdesk):
    key = store_ticket(engine)
    helpdesk.fail_next = 2
    worker = OutboxWorker(helpdesk.url, engine=engine, settings=FAST)
    await run_until(worker, lambda: delivery(engine, key).status == "delivered", timeout=20)

    sent = helpdesk.requests_for(key)
    assert len(sent) == 3 and all(r["body"]["idempotency_key"] == key for r in sent)
    gaps = [b["at"] - a["at"] for a, b in zip(sent, sent[1:])]
    assert gaps[0] >= 0.2 * 0.9 and gaps[1] >= 0.4 * 0.9  # base, then doubled
    row, stored = delivery(engine, key), ticket(engine, key)
    assert (row.attempts, row.last_error) == (3, None) and row.delivered_at is not None
    assert stored.forwarded_at is not None and stored.forward_attempts == 3 and stored.forward_error is None
    assert helpdesk.tickets[key]["ticket_no"] == stored.ticket_no and helpdesk.tickets[key]["contact"] == "13812345678"

    # delivered means never sent again, by this worker or another one
    assert await OutboxWorker(helpdesk.url, engine=engine, settings=FAST).deliver_due() == 0
    assert len(helpdesk.requests_for(key)) == 3


async def test_failures_are_recorded_and_a_delivery_is_given_up_after_the_maximum(engine, helpdesk):
    key = store_ticket(engine)
    helpdesk.fail_next = 100
    worker = OutboxWorker(helpdesk.url, engine=engine, settings=dataclasses.replace(FAST, outbox_max_attempts=2))

    assert await worker.deliver_due() == 1
    row = delivery(engine, key)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 503")
    assert row.next_attempt_at > utcnow() + timedelta(seconds=0.1)  # the backoff, not the lease
    assert ticket(engine, key).forward_error == "HTTP 503" and ticket(engine, key).forwarded_at is None

    await run_until(worker, lambda: delivery(engine, key).status == "failed", timeout=10)
    assert delivery(engine, key).attempts == 2 and len(helpdesk.requests_for(key)) == 2


async def test_an_unreachable_helpdesk_is_a_recorded_failure(engine):
    key = store_ticket(engine)
    assert await OutboxWorker("http://127.0.0.1:9/tickets", engine=engine, settings=FAST).deliver_due() == 1
    row = delivery(engine, key)
    assert row.status == "pending" and "ClientConnectorError" in row.last_error


async def test_pending_deliveries_survive_a_restart(engine, helpdesk):
    """A delivery that failed before the restart and one never tried (the process died right after
    the commit) are both sent by a new worker on a new engine, as in a new process."""
    failed_before, never_tried = store_ticket(engine), store_ticket(engine)
    with session_scope(engine) as session:  # the first process stopped before this one fell due
        session.execute(OutboxDelivery.__table__.update()
                        .where(OutboxDelivery.idempotency_key == never_tried)
                        .values(next_attempt_at=utcnow() + timedelta(seconds=1)))
    helpdesk.fail_next = 100
    first = OutboxWorker(helpdesk.url, engine=engine, settings=dataclasses.replace(FAST, outbox_backoff_seconds=1.0))
    assert await first.deliver_due() >= 1
    assert delivery(engine, failed_before).last_error == "HTTP 503"
    assert delivery(engine, never_tried).attempts == 0
    helpdesk.fail_next = 0

    restarted = make_engine(engine.url)
    try:
        worker = OutboxWorker(helpdesk.url, engine=restarted, settings=FAST)
        await run_until(worker, lambda: {delivery(engine, k).status for k in (failed_before, never_tried)}
                        == {"delivered"}, timeout=20)
    finally:
        restarted.dispose()
    assert set(helpdesk.tickets) == {failed_before, never_tried}


# --- several workers -------------------------------------------------------------------------------------

def test_concurrent_claims_never_hand_out_a_row_twice(engine):
    keys = [store_ticket(engine) for _ in range(30)]
    engines = [make_engine(engine.url) for _ in range(6)]
    claimed: list[list[int]] = [[] for _ in engines]
    start = threading.Barrier(len(engines))

    def claim(i: int) -> None:
        start.wait()
        while True:
            with session_scope(engines[i]) as session:
                rows = repository.claim_due_deliveries(session, worker=f"w{i}", lease_seconds=60, limit=3)
                claimed[i] += [row.id for row in rows]
            if not rows:
                return
            time.sleep(0.01)  # as a worker delivers between claims: the others get their turn under load

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(engines))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for e in engines:
        e.dispose()
    every = [row_id for rows in claimed for row_id in rows]
    assert len(every) == len(set(every)) == len(keys)
    assert sum(1 for rows in claimed if rows) >= 2  # the claims really did compete


async def test_two_workers_never_deliver_the_same_row_twice(engine, helpdesk):
    keys = [store_ticket(engine) for _ in range(20)]
    helpdesk.delay = 0.02
    engines = [make_engine(engine.url) for _ in range(2)]
    try:
        workers = [OutboxWorker(helpdesk.url, engine=e, settings=FAST, batch=2) for e in engines]
        counts = await asyncio.gather(*(w.deliver_due() for w in workers))
    finally:
        for e in engines:
            e.dispose()
    assert sum(counts) == len(keys) and min(counts) > 0
    assert sorted(r["key"] for r in helpdesk.requests) == sorted(keys)  # each exactly once
    with session_scope(engine) as session:
        rows = session.execute(select(OutboxDelivery)).scalars().all()
    assert {r.status for r in rows} == {"delivered"} and {r.attempts for r in rows} == {1}
    assert len({r.claimed_by for r in rows}) == 2


# --- killed mid-forward --------------------------------------------------------------------------------

def _worker_process(engine, helpdesk: FakeHelpdesk, lease: float, timeout: float) -> subprocess.Popen:
    """`python -m bot.outbox --once` in its own process, on this test's database."""
    env = {**os.environ, "DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "HELPDESK_WEBHOOK_URL": helpdesk.url, "OUTBOX_LEASE_SECONDS": str(lease),
           "HELPDESK_TIMEOUT_SECONDS": str(timeout), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "bot.outbox", "--once"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_worker_killed_mid_forward_delivers_the_ticket_exactly_once_after_restart(engine, helpdesk):
    """SIGKILL after the helpdesk received the POST, before the worker could mark the row. After
    the lease, a new worker sends it again with the same idempotency key: two POSTs (at-least-once),
    one ticket at the helpdesk, one delivered row, and nothing sent after that."""
    lease, timeout = 8.0, 1.5
    key = store_ticket(engine)
    helpdesk.hang.set()
    first = _worker_process(engine, helpdesk, lease, timeout)
    try:
        assert helpdesk.wait_for_requests(1, timeout=60), first.communicate(timeout=5)[0]
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    helpdesk.hang.clear()
    row = delivery(engine, key)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, None)  # died mid-forward
    assert helpdesk.tickets == {}  # the helpdesk got the request but never answered it

    # Restarted at once: the dead worker's lease still holds the row, so nothing is sent yet.
    again = _worker_process(engine, helpdesk, lease, timeout)
    output, _ = again.communicate(timeout=60)
    assert again.returncode == 0 and "0 deliveries attempted" in output, output
    assert len(helpdesk.requests) == 1

    time.sleep(max(0.0, (delivery(engine, key).next_attempt_at - utcnow()).total_seconds()) + 0.2)
    after_lease = _worker_process(engine, helpdesk, lease, timeout)
    output, _ = after_lease.communicate(timeout=60)
    assert after_lease.returncode == 0 and "1 deliveries attempted" in output, output

    sent = helpdesk.requests_for(key)
    assert len(sent) == 2 and [r["body"]["idempotency_key"] for r in sent] == [key, key]
    assert list(helpdesk.tickets) == [key]  # exactly one ticket at the helpdesk
    row = delivery(engine, key)
    assert (row.status, row.attempts) == ("delivered", 2)

    last = _worker_process(engine, helpdesk, lease, timeout)
    output, _ = last.communicate(timeout=60)
    assert "0 deliveries attempted" in output and len(helpdesk.requests) == 2
