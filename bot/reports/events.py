"""Reading Rasa's SQL tracker store: the few events the reports need, for one period.

Rasa's SQLTrackerStore keeps one row per event in `events(id, sender_id, type_name, timestamp,
intent_name, action_name, data)`; for a `slot` event `action_name` holds the slot's name. Only user
turns and the actions and slots that show what became of them are read, through SQLAlchemy Core
against those column names (no Rasa import, so the CLI starts fast and any replica's database works).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Optional

from sqlalchemy import and_, column, create_engine, inspect, or_, select, table
from sqlalchemy.engine import Engine

from bot.reports.period import Period

ANSWER_FAQ = "action_answer_faq"
HANDOFF = "action_human_handoff"
SESSION_START = "action_session_start"
ACTIONS = (ANSWER_FAQ, HANDOFF, SESSION_START)
FAQ_TOPIC_SLOT = "faq_topic"  # set by action_answer_faq to the topic it answered
TICKET_SLOT = "ticket_no"  # set by action_create_ticket once a ticket is stored
SLOTS = (FAQ_TOPIC_SLOT, TICKET_SLOT)

EVENTS = table("events", column("id"), column("sender_id"), column("type_name"), column("timestamp"),
               column("action_name"), column("data"))


@dataclass(frozen=True)
class Event:
    """One tracker-store row, its JSON decoded."""

    conversation: str
    type: str  # "user", "action" or "slot"
    timestamp: float
    name: Optional[str] = None  # the action's or the slot's name
    data: dict = field(default_factory=dict, compare=False)


def reader_engine(url: str) -> Engine:
    """A plain engine for reading (the app's SQLite engine takes the write lock on every BEGIN,
    which would hold up the Rasa server while a report runs)."""
    return create_engine(url, future=True)


def query(period: Period):
    e = EVENTS.c
    return (
        select(e.sender_id, e.type_name, e.timestamp, e.action_name, e.data)
        .where(e.timestamp >= period.start_ts, e.timestamp < period.end_ts)
        .where(or_(e.type_name == "user",
                   and_(e.type_name == "action", e.action_name.in_(ACTIONS)),
                   and_(e.type_name == "slot", e.action_name.in_(SLOTS))))
        .order_by(e.sender_id, e.id)
    )


def decode(rows: Iterable[Any]) -> Iterator[Event]:
    for sender_id, type_name, timestamp, name, data in rows:
        try:
            payload = json.loads(data) if data else {}
        except ValueError:
            payload = {}
        yield Event(str(sender_id), str(type_name), float(timestamp or 0.0), name, payload)


def absent(engine: Engine) -> bool:
    """A SQLite file that does not exist yet (reading must not create it)."""
    url = engine.url
    return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
        and not os.path.exists(url.database)


def load_events(engine: Engine, period: Period) -> list[Event]:
    """The period's events, grouped by conversation and in the order they happened in it; none when
    nothing was stored yet (no database file, no `events` table). An unreachable server raises."""
    if absent(engine):
        return []
    with engine.connect() as connection:
        if not inspect(connection).has_table("events"):
            return []
        return list(decode(connection.execute(query(period))))
