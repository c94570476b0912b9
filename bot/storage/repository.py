"""Keyword-only data access functions; each takes the caller's session and never commits it."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Optional

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.storage.models import CHINA_TZ, FilingOrder, LookupAttempt, OutboxDelivery, Ticket, utcnow

_ORDER_FIELDS = frozenset(c.key for c in FilingOrder.__table__.columns) - {"id"}
_TICKET_NO_ATTEMPTS = 5
_ADVISORY_NAMESPACE = 0x4241  # "BA": keeps our advisory lock keys apart from anyone else's


def _order_key(order_no: str) -> str:
    """Order numbers are stored upper-case (`icp2026…` typed by a user is the same order)."""
    return order_no.strip().upper()


def get_order(session: Session, order_no: str) -> Optional[FilingOrder]:
    return session.execute(
        select(FilingOrder).where(FilingOrder.order_no == _order_key(order_no))
    ).scalar_one_or_none()


def upsert_order(session: Session, **fields: Any) -> FilingOrder:
    """Insert the order or update the stored one with `fields` (matched on `order_no`).

    Meant for the single-writer import job; a brand-new order is pending until the next flush.
    """
    unknown = set(fields) - _ORDER_FIELDS
    if unknown:
        raise TypeError(f"unknown FilingOrder fields: {', '.join(sorted(unknown))}")
    if not fields.get("order_no"):
        raise TypeError("upsert_order needs order_no")
    fields["order_no"] = _order_key(fields["order_no"])
    candidate = FilingOrder(**fields)  # runs the model's validators before anything is touched
    order = get_order(session, fields["order_no"])
    if order is None:
        session.add(candidate)
        return candidate
    for key, value in fields.items():
        setattr(order, key, value)
    return order


def record_lookup(session: Session, *, sender_id: str, order_no: Optional[str], succeeded: bool,
                  at: Optional[datetime] = None) -> LookupAttempt:
    attempt = LookupAttempt(sender_id=sender_id, order_no=_order_key(order_no) if order_no else None,
                            succeeded=succeeded, created_at=at or utcnow())
    session.add(attempt)
    return attempt


def recent_failures(session: Session, *, since: datetime, sender_id: Optional[str] = None,
                    order_no: Optional[str] = None) -> int:
    """Failed lookups at or after `since` (an aware datetime) by this sender, or against this order
    from anyone: the lockout counts (an enumerating client rotates its sender id, not the order)."""
    if (sender_id is None) == (order_no is None):
        raise ValueError("count by sender_id or by order_no")
    by = LookupAttempt.sender_id == sender_id if order_no is None else \
        LookupAttempt.order_no == _order_key(order_no)
    return session.execute(
        select(func.count()).select_from(LookupAttempt).where(
            by,
            LookupAttempt.succeeded.is_(False),
            LookupAttempt.created_at >= since,
        )
    ).scalar_one()


def next_ticket_no(session: Session, day: date) -> str:
    """The next free BAyyyymmdd-NNNN for `day`, counting from the highest number already stored.

    Only a proposal: two concurrent writers can get the same one, which the unique constraint
    on ticket_no catches (see create_ticket).
    """
    prefix = f"BA{day:%Y%m%d}-"
    last = session.execute(
        select(Ticket.ticket_no).where(Ticket.ticket_no.like(prefix + "%"))
        # By length first so that -10000 (if a day ever got there) sorts after -9999.
        .order_by(func.length(Ticket.ticket_no).desc(), Ticket.ticket_no.desc()).limit(1)
    ).scalar_one_or_none()
    serial = int(last[len(prefix):]) + 1 if last else 1
    return f"{prefix}{serial:04d}"


def get_ticket(session: Session, *, idempotency_key: str) -> Optional[Ticket]:
    return session.execute(
        select(Ticket).where(Ticket.idempotency_key == idempotency_key)
    ).scalar_one_or_none()


def create_ticket(session: Session, *, idempotency_key: str, sender_id: str, topic: str,
                  description: str, contact: str, order_no: Optional[str] = None,
                  transcript: Optional[list[Any]] = None, now: Optional[datetime] = None,
                  kind: str = "question") -> Ticket:
    """Store a ticket, or return the one already stored under `idempotency_key`.

    A repeated confirmation, a retried request or a double click carries the same key and gets
    the same ticket. Concurrent calls are serialised per day (a PostgreSQL advisory lock, SQLite's
    write lock); the unique constraints are the backstop: a losing INSERT fails inside a savepoint,
    so the caller's transaction survives, and re-reads the winner's ticket or takes the next number.
    The number uses the China calendar day, the one the user sees. A complaint is high priority.
    """
    existing = get_ticket(session, idempotency_key=idempotency_key)
    if existing is not None:
        return existing
    now = now or utcnow()
    day = now.astimezone(CHINA_TZ).date()
    if _lock_ticket_day(session, day):
        existing = get_ticket(session, idempotency_key=idempotency_key)  # a racer may have won
        if existing is not None:
            return existing
    for _ in range(_TICKET_NO_ATTEMPTS):
        ticket = Ticket(
            ticket_no=next_ticket_no(session, day),
            idempotency_key=idempotency_key, sender_id=sender_id, topic=topic,
            order_no=_order_key(order_no) if order_no else None, description=description,
            contact=contact, transcript=list(transcript or []), created_at=now,
            kind=kind, priority="high" if kind == "complaint" else "normal",
        )
        try:
            with session.begin_nested():
                session.add(ticket)
        except IntegrityError:
            existing = get_ticket(session, idempotency_key=idempotency_key)
            if existing is not None:
                return existing
            continue  # someone else took this ticket number: take the next one
        return ticket
    raise RuntimeError(f"no free ticket number after {_TICKET_NO_ATTEMPTS} attempts")


def _lock_ticket_day(session: Session, day: date) -> bool:
    """Serialise ticket numbering for one day until the transaction ends; True if a lock was taken.

    Without it, N concurrent tickets on PostgreSQL all propose the same number and the last one
    needs N retries. SQLite needs nothing: our SQLite transactions already hold the write lock.
    """
    if session.get_bind().dialect.name != "postgresql":
        return False
    session.execute(select(func.pg_advisory_xact_lock(_ADVISORY_NAMESPACE, int(f"{day:%Y%m%d}"))))
    return True


# --- the outbox: helpdesk deliveries of tickets (the worker is bot.outbox) -------------------------


def enqueue_ticket_delivery(session: Session, *, ticket: Ticket, now: Optional[datetime] = None) -> OutboxDelivery:
    """The ticket's pending delivery, added in the caller's transaction (the one storing the
    ticket), or the one it already has: a repeated confirmation never queues a second delivery.
    The idempotency key is the ticket's own, stable for every attempt."""
    if ticket.id is None:
        session.flush()
    existing = session.execute(
        select(OutboxDelivery).where(OutboxDelivery.ticket_id == ticket.id)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    now = now or utcnow()
    delivery = OutboxDelivery(ticket_id=ticket.id, idempotency_key=ticket.idempotency_key, status="pending",
                              attempts=0, next_attempt_at=now, created_at=now)
    session.add(delivery)
    return delivery


def claim_due_deliveries(session: Session, *, worker: str, lease_seconds: float, limit: int = 10,
                         now: Optional[datetime] = None) -> list[OutboxDelivery]:
    """Claim up to `limit` pending deliveries that are due, for `worker`, for `lease_seconds`.

    A claim counts an attempt and moves `next_attempt_at` past the lease: nobody else picks the row
    up while the lease runs, and a worker that dies mid-delivery leaves it due again afterwards.
    Safe with several workers on several action servers: on PostgreSQL the candidates are locked
    with FOR UPDATE SKIP LOCKED (a competing worker takes other rows instead of waiting); on SQLite
    the transaction already holds the database's write lock (BEGIN IMMEDIATE, see db.make_engine).
    Each claim is also a conditional UPDATE that only succeeds while the row is still due, so a row
    is never claimed twice within one lease on any backend. The caller commits to make the claims
    visible before delivering.
    """
    now = now or utcnow()
    candidates = session.execute(
        select(OutboxDelivery.id)
        .where(OutboxDelivery.status == "pending", OutboxDelivery.next_attempt_at <= now)
        .order_by(OutboxDelivery.next_attempt_at, OutboxDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).scalars().all()
    claimed: list[OutboxDelivery] = []
    lease_until = now + timedelta(seconds=lease_seconds)
    for delivery_id in candidates:
        result = session.execute(
            update(OutboxDelivery)
            .where(OutboxDelivery.id == delivery_id, OutboxDelivery.status == "pending",
                   OutboxDelivery.next_attempt_at <= now)
            .values(next_attempt_at=lease_until, claimed_by=worker, attempts=OutboxDelivery.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            claimed.append(delivery_id)
    if not claimed:
        return []
    session.expire_all()
    return list(session.execute(
        select(OutboxDelivery).where(OutboxDelivery.id.in_(claimed)).order_by(OutboxDelivery.id)
    ).scalars())


def mark_delivered(session: Session, *, delivery_id: int, now: Optional[datetime] = None) -> bool:
    """Record that the helpdesk accepted the delivery (and on the ticket); never sent again after.
    False if it was already marked (another worker's lease ran out and it delivered too)."""
    now = now or utcnow()
    result = session.execute(
        update(OutboxDelivery)
        .where(OutboxDelivery.id == delivery_id, OutboxDelivery.status != "delivered")
        .values(status="delivered", delivered_at=now, last_error=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    delivery = session.get(OutboxDelivery, delivery_id, populate_existing=True)
    ticket = session.get(Ticket, delivery.ticket_id)
    ticket.forwarded_at, ticket.forward_attempts, ticket.forward_error = now, delivery.attempts, None
    return True


def mark_failed(session: Session, *, delivery_id: int, worker: str, error: str, retry_at: Optional[datetime],
                now: Optional[datetime] = None) -> bool:
    """Record a failed attempt: retried at `retry_at`, or given up (`failed`) when it is None.
    Only while `worker` still holds the claim: if its lease ran out and another worker took the row,
    that worker's outcome is the one recorded."""
    values: dict[str, Any] = {"last_error": error[:1000]}
    if retry_at is None:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = retry_at
    result = session.execute(
        update(OutboxDelivery)
        .where(OutboxDelivery.id == delivery_id, OutboxDelivery.status == "pending",
               OutboxDelivery.claimed_by == worker)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    delivery = session.get(OutboxDelivery, delivery_id, populate_existing=True)
    ticket = session.get(Ticket, delivery.ticket_id)
    ticket.forward_attempts, ticket.forward_error = delivery.attempts, error[:1000]
    return True


def pending_deliveries(session: Session, *, due_by: Optional[datetime] = None) -> int:
    """How many deliveries are still pending (due by `due_by`, when given)."""
    query = select(func.count()).select_from(OutboxDelivery).where(OutboxDelivery.status == "pending")
    if due_by is not None:
        query = query.where(OutboxDelivery.next_attempt_at <= due_by)
    return session.execute(query).scalar_one()


def next_delivery_due(session: Session) -> Optional[datetime]:
    """When the earliest pending delivery falls due (None when nothing is pending)."""
    return session.execute(
        select(OutboxDelivery.next_attempt_at).where(OutboxDelivery.status == "pending")
        .order_by(OutboxDelivery.next_attempt_at).limit(1)
    ).scalar_one_or_none()
