"""Declarative models for the app tables; the schema itself is owned by the Alembic migrations."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, declarative_base, validates
from sqlalchemy.types import TypeDecorator

# Order status codes and what a user is told they mean, in the order a filing moves through them.
STATUSES: tuple[tuple[str, str], ...] = (
    ("draft", "待提交"),
    ("provider_review", "华为云初审中"),
    ("provider_rejected", "初审驳回/待修改"),
    ("sms_verification", "待工信部短信核验"),
    ("bureau_review", "管局审核中"),
    ("bureau_rejected", "管局驳回"),
    ("approved", "备案成功"),
    ("cancelled", "已撤销/已放弃"),
)
STATUS_CODES: tuple[str, ...] = tuple(code for code, _ in STATUSES)
STATUS_LABELS: dict[str, str] = dict(STATUSES)
SUBJECT_TYPES: tuple[str, ...] = ("individual", "company")

# Mainland China has had no DST since 1991, so a fixed offset is exact and needs no tz database.
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def utcnow() -> datetime:
    """Aware UTC now: every stored time is aware, so comparisons never mix naive and aware."""
    return datetime.now(timezone.utc)


class UtcDateTime(TypeDecorator):
    """An aware datetime stored as UTC on every backend.

    SQLite has no time zones and returns naive values; PostgreSQL returns the session's zone.
    Normalising to UTC on the way in and out gives the same aware values on both, keeps SQLite's
    text comparison in time order, and rejects naive datetimes, which would be ambiguous.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: give it a time zone")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Optional[datetime], dialect: Dialect) -> Optional[datetime]:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# Named constraints let Alembic's batch mode (SQLite) find and alter them in later migrations.
metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})
Base: Any = declarative_base(metadata=metadata)


class FilingOrder(Base):
    """One ICP filing order as the filing system reports it (synced by `orders import`)."""

    __tablename__ = "filing_orders"
    # CHECK-constrained strings rather than native enums: adding a status stays a one-line migration.
    __table_args__ = (
        CheckConstraint(_in("status", STATUS_CODES), name="status"),
        CheckConstraint(_in("subject_type", SUBJECT_TYPES), name="subject_type"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    order_no: Mapped[str] = Column(String(20), nullable=False, unique=True)
    subject_name: Mapped[str] = Column(String(200), nullable=False)
    subject_type: Mapped[str] = Column(String(16), nullable=False)
    phone: Mapped[str] = Column(String(20), nullable=False)
    province: Mapped[str] = Column(String(8), nullable=False)
    status: Mapped[str] = Column(String(32), nullable=False)
    status_detail: Mapped[str] = Column(Text, nullable=False, default="")
    icp_number: Mapped[Optional[str]] = Column(String(40))
    submitted_at: Mapped[datetime] = Column(UtcDateTime, nullable=False)
    updated_at: Mapped[datetime] = Column(UtcDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    @validates("status")
    def _check_status(self, key: str, value: str) -> str:
        """Fail at assignment with a readable message instead of a CHECK violation at flush."""
        if value not in STATUS_CODES:
            raise ValueError(f"unknown status {value!r}")
        return value

    @validates("subject_type")
    def _check_subject_type(self, key: str, value: str) -> str:
        if value not in SUBJECT_TYPES:
            raise ValueError(f"unknown subject_type {value!r}")
        return value

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    def __repr__(self) -> str:  # no phone or name: reprs end up in logs
        return f"<FilingOrder {self.order_no} {self.status}>"


TICKET_KINDS: tuple[str, ...] = ("question", "complaint")
TICKET_PRIORITIES: tuple[str, ...] = ("normal", "high")


class Ticket(Base):
    """A support ticket; `idempotency_key` makes a repeated confirmation return the same ticket."""

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(_in("kind", TICKET_KINDS), name="kind"),
        CheckConstraint(_in("priority", TICKET_PRIORITIES), name="priority"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    ticket_no: Mapped[str] = Column(String(16), nullable=False, unique=True)  # BA20261130-0007
    sender_id: Mapped[str] = Column(String(255), nullable=False)
    topic: Mapped[str] = Column(String(200), nullable=False)
    # No foreign key: a ticket may be about an order number we have never imported.
    order_no: Mapped[Optional[str]] = Column(String(20))
    description: Mapped[str] = Column(Text, nullable=False)
    contact: Mapped[str] = Column(String(254), nullable=False)
    transcript: Mapped[list] = Column(JSON, nullable=False, default=list)
    idempotency_key: Mapped[str] = Column(String(128), nullable=False, unique=True)
    created_at: Mapped[datetime] = Column(UtcDateTime, nullable=False, default=utcnow)
    forwarded_at: Mapped[Optional[datetime]] = Column(UtcDateTime)
    forward_attempts: Mapped[int] = Column(Integer, nullable=False, default=0, server_default="0")
    forward_error: Mapped[Optional[str]] = Column(Text)
    kind: Mapped[str] = Column(String(16), nullable=False, default="question", server_default="question")
    priority: Mapped[str] = Column(String(8), nullable=False, default="normal", server_default="normal")

    def __repr__(self) -> str:
        return f"<Ticket {self.ticket_no}>"


class LookupAttempt(Base):
    """One order lookup by a sender; failures in a recent window drive the per-sender lockout."""

    __tablename__ = "lookup_attempts"
    # Serves recent_failures(): equality on sender_id and succeeded, range on created_at.
    __table_args__ = (Index(None, "sender_id", "succeeded", "created_at"),)

    id: Mapped[int] = Column(Integer, primary_key=True)
    sender_id: Mapped[str] = Column(String(255), nullable=False)
    order_no: Mapped[Optional[str]] = Column(String(20))
    succeeded: Mapped[bool] = Column(Boolean, nullable=False)
    created_at: Mapped[datetime] = Column(UtcDateTime, nullable=False, default=utcnow)


OUTBOX_STATUSES: tuple[str, ...] = ("pending", "delivered", "failed")


class OutboxDelivery(Base):
    """One ticket's delivery to the helpdesk webhook, written in the transaction that stores the
    ticket, so a stored ticket always has its delivery (see bot.outbox for the worker).

    `next_attempt_at` is both the schedule and the lease: a worker claims a due row by moving it
    forward by the lease (an atomic conditional UPDATE), so a worker that dies mid-delivery leaves a
    row that falls due again when its lease runs out. `idempotency_key` is sent with every attempt
    (at-least-once delivery; the helpdesk deduplicates on the key).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        # Serves the worker's claim: pending rows in the order they fall due.
        Index(None, "status", "next_attempt_at"),
    )

    id: Mapped[int] = Column(Integer, primary_key=True)
    ticket_id: Mapped[int] = Column(Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False,
                                    unique=True)
    idempotency_key: Mapped[str] = Column(String(128), nullable=False, unique=True)
    status: Mapped[str] = Column(String(16), nullable=False, default="pending", server_default="pending")
    attempts: Mapped[int] = Column(Integer, nullable=False, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = Column(UtcDateTime, nullable=False, default=utcnow)
    claimed_by: Mapped[Optional[str]] = Column(String(64))
    last_error: Mapped[Optional[str]] = Column(Text)
    created_at: Mapped[datetime] = Column(UtcDateTime, nullable=False, default=utcnow)
    delivered_at: Mapped[Optional[datetime]] = Column(UtcDateTime)

    def __repr__(self) -> str:
        return f"<OutboxDelivery ticket={self.ticket_id} {self.status} attempts={self.attempts}>"
