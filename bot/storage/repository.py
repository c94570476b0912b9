"""Keyword-only data access functions; each takes the caller's session and never commits it."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.storage.models import CHINA_TZ, FilingOrder, LookupAttempt, Ticket, utcnow

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
    by = LookupAttempt.sender_id == sender_id if sender_id is not None else \
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
