"""Ticket forwarding to the helpdesk as a durable outbox.

The contract (docs/production.md, "Ticket forwarding"):

- A ticket and its pending delivery (table `outbox`) are written in one transaction: a stored
  ticket always has its delivery, whatever happens to the process afterwards.
- A worker in the action server process (started with the server, see rasa_sdk_plugins) delivers
  due rows at start-up, whenever a ticket is stored in this process, and every
  OUTBOX_INTERVAL_SECONDS; `python -m bot.outbox` runs the same worker on its own.
- A worker claims a row by moving its `next_attempt_at` past a lease (one conditional UPDATE; FOR
  UPDATE SKIP LOCKED on PostgreSQL): several action servers never send one row at the same time.
- Delivery is at-least-once: a worker that dies after the helpdesk received the POST but before the
  row was marked leaves the row due again when the lease runs out, and it is sent again. Every
  attempt for one ticket carries the same key (header `Idempotency-Key` and `idempotency_key` in
  the body), so the helpdesk keeps one ticket per key. A row the helpdesk accepted (2xx) is marked
  delivered and never sent again.
- A failure is recorded on the row (attempts, last error, next attempt) and on the ticket, and
  retried after OUTBOX_BACKOFF_SECONDS, doubling up to OUTBOX_BACKOFF_CAP_SECONDS; after
  OUTBOX_MAX_ATTEMPTS the row is marked `failed` and logged as an error.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy.engine import Engine

from bot.config import Settings, get_settings
from bot.storage import repository
from bot.storage.db import off_loop, session_scope
from bot.storage.models import Ticket, utcnow

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"


def backoff_seconds(attempts: int, *, base: float, cap: float) -> float:
    """The wait after `attempts` failed attempts: base, 2·base, 4·base, … never more than cap."""
    if attempts < 1:
        return 0.0
    return min(cap, base * 2 ** min(attempts - 1, 60))


def ticket_payload(ticket: Ticket, idempotency_key: str) -> dict[str, Any]:
    """What the helpdesk receives for a ticket (the same body on every attempt)."""
    return {"idempotency_key": idempotency_key, "ticket_no": ticket.ticket_no, "kind": ticket.kind,
            "priority": ticket.priority, "topic": ticket.topic, "order_no": ticket.order_no,
            "description": ticket.description, "contact": ticket.contact, "transcript": ticket.transcript,
            "created_at": ticket.created_at.isoformat()}


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    ticket_no: str
    idempotency_key: str
    attempts: int
    payload: dict = field(repr=False)


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class OutboxWorker:
    """Delivers due outbox rows to `url`; one per process is enough, any number may run at once."""

    def __init__(self, url: str, *, engine: Optional[Engine] = None, settings: Optional[Settings] = None,
                 name: Optional[str] = None, batch: int = 5) -> None:
        settings = settings or get_settings()
        self.url, self.engine, self.batch = url, engine, batch
        self.name = name or worker_name()
        self.interval = settings.outbox_interval_seconds
        self.base, self.cap = settings.outbox_backoff_seconds, settings.outbox_backoff_cap_seconds
        self.lease, self.timeout = settings.outbox_lease_seconds, settings.helpdesk_timeout_seconds
        self.max_attempts = settings.outbox_max_attempts
        if self.lease <= batch * self.timeout:
            raise ValueError(f"OUTBOX_LEASE_SECONDS ({self.lease:g}) must be longer than {batch} deliveries of "
                             f"HELPDESK_TIMEOUT_SECONDS ({self.timeout:g}): a claimed batch still in flight would be "
                             "claimed again")
        self._wake: Optional[asyncio.Event] = None
        self._stopping = False

    # --- database work (in a worker thread, never on the event loop) ------------------------------

    def _claim(self) -> list[Claimed]:
        with session_scope(self.engine) as session:
            rows = repository.claim_due_deliveries(session, worker=self.name, lease_seconds=self.lease,
                                                   limit=self.batch)
            claimed = []
            for row in rows:
                ticket = session.get(Ticket, row.ticket_id)
                claimed.append(Claimed(row.id, ticket.ticket_no, row.idempotency_key, row.attempts,
                                       ticket_payload(ticket, row.idempotency_key)))
            return claimed

    def _record(self, item: Claimed, error: Optional[str]) -> None:
        with session_scope(self.engine) as session:
            if error is None:
                repository.mark_delivered(session, delivery_id=item.delivery_id)
                return
            give_up = self.max_attempts and item.attempts >= self.max_attempts
            retry_at = None if give_up else utcnow() + timedelta(
                seconds=backoff_seconds(item.attempts, base=self.base, cap=self.cap))
            repository.mark_failed(session, delivery_id=item.delivery_id, worker=self.name, error=error,
                                   retry_at=retry_at)
        if retry_at is None:
            logger.error("ticket %s was stored but the helpdesk refused it %d times; giving up: %s",
                         item.ticket_no, item.attempts, error)
        else:
            logger.warning("forwarding ticket %s failed (attempt %d), next attempt at %s: %s",
                           item.ticket_no, item.attempts, retry_at.isoformat(timespec="seconds"), error)

    def _next_due(self) -> Optional[datetime]:
        with session_scope(self.engine) as session:
            return repository.next_delivery_due(session)

    # --- the helpdesk -----------------------------------------------------------------------------

    async def _post(self, http: Any, item: Claimed) -> Optional[str]:
        """None when the helpdesk accepted the ticket, else what went wrong."""
        import aiohttp

        body = json.dumps(item.payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", IDEMPOTENCY_HEADER: item.idempotency_key}
        try:
            async with http.post(self.url, data=body, headers=headers,
                                 timeout=aiohttp.ClientTimeout(total=self.timeout)) as response:
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except asyncio.TimeoutError:
            return f"no answer within {self.timeout:g} s"
        except aiohttp.ClientError as exc:
            return f"{type(exc).__name__}: {exc}"[:300]

    # --- the loop ---------------------------------------------------------------------------------

    async def deliver_due(self, http: Any = None) -> int:
        """Deliver every row that is due now (batch by batch); how many were claimed."""
        import aiohttp

        own = http is None
        http = http or aiohttp.ClientSession()
        total = 0
        try:
            while not self._stopping:
                claimed = await off_loop(self._claim)
                if not claimed:
                    break
                total += len(claimed)
                for item in claimed:
                    error = await self._post(http, item)
                    if error is None:
                        logger.info("ticket %s forwarded to the helpdesk (attempt %d)", item.ticket_no, item.attempts)
                    await off_loop(self._record, item, error)
        finally:
            if own:
                await http.close()
        return total

    def wake(self) -> None:
        """Look for due deliveries now (a ticket was just stored); call on the worker's loop."""
        if self._wake is not None:
            self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self.wake()

    async def run(self) -> None:
        """Deliver at start, then whenever woken, when the next retry falls due, or every interval."""
        import aiohttp

        self._wake = asyncio.Event()
        async with aiohttp.ClientSession() as http:
            while not self._stopping:
                try:
                    await self.deliver_due(http)
                    next_due = await off_loop(self._next_due)
                except asyncio.CancelledError:
                    raise
                except Exception:  # a database outage must not end the worker: try again later
                    logger.exception("the outbox worker could not reach the database; retrying")
                    next_due = None
                wait = self.interval
                if next_due is not None:
                    wait = max(0.05, min(wait, (next_due - utcnow()).total_seconds()))
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)
                except asyncio.TimeoutError:
                    pass
                self._wake.clear()


# --- the action server's worker (one per process) ---------------------------------------------------

_worker: Optional[OutboxWorker] = None
_task: Optional[asyncio.Task] = None


def wake() -> None:
    """Tell this process's worker a ticket was stored (no-op where no worker runs)."""
    if _worker is not None:
        _worker.wake()


async def start_worker(*_: Any) -> None:
    """Sanic `after_server_start` listener: run the worker when HELPDESK_WEBHOOK_URL is set."""
    global _worker, _task
    url = get_settings().helpdesk_webhook_url
    if not url or _task is not None:
        return
    _worker = OutboxWorker(url)
    _task = asyncio.get_running_loop().create_task(_worker.run())
    logger.info("outbox worker %s forwards tickets to the helpdesk", _worker.name)


async def stop_worker(*_: Any) -> None:
    """Sanic `before_server_stop` listener. A delivery cut short here is sent again later (lease)."""
    global _worker, _task
    if _task is None or _worker is None:
        return
    _worker.stop()
    try:
        await asyncio.wait_for(_task, timeout=5)
    except (asyncio.TimeoutError, asyncio.CancelledError):
        _task.cancel()
    except Exception:
        logger.exception("the outbox worker stopped with an error")
    _worker = _task = None


def main(argv: Optional[list[str]] = None) -> int:
    """`python -m bot.outbox [--once]`: deliver due tickets now (--once) or keep running."""
    parser = argparse.ArgumentParser(prog="python -m bot.outbox", description=__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = get_settings().helpdesk_webhook_url
    if not url:
        print("HELPDESK_WEBHOOK_URL is not set: nothing to deliver to")
        return 2
    worker = OutboxWorker(url)
    if args.once:
        claimed = asyncio.run(worker.deliver_due())
        print(f"{claimed} deliveries attempted")
        return 0
    asyncio.run(worker.run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
