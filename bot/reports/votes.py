"""Reading users' helpful / not helpful votes from the app database (`answer_feedback`).

Written against the table's columns (`sqlalchemy.table()`), not the ORM model, so a report also runs
against a database whose schema is behind; a database without the table yet has no votes.
"""
from __future__ import annotations

import logging
from datetime import timezone
from typing import Optional

from sqlalchemy import column, select, table
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.reports.period import Period
from bot.reports.quality import Vote

logger = logging.getLogger(__name__)

ANSWER_FEEDBACK = table("answer_feedback", column("topic"), column("helpful"), column("channel"),
                        column("created_at"))


def load_votes(engine: Engine, period: Period) -> Optional[list[Vote]]:
    """The period's votes, or None when the database has no `answer_feedback` table."""
    from bot.storage.models import UtcDateTime  # stored as UTC everywhere (naive on SQLite)

    f = ANSWER_FEEDBACK.c
    created = column("created_at", UtcDateTime())
    start, end = period.start.astimezone(timezone.utc), period.end.astimezone(timezone.utc)
    statement = (select(f.topic, f.helpful, f.channel)
                 .select_from(ANSWER_FEEDBACK)
                 .where(created >= start, created < end))
    from bot.reports.events import absent

    if absent(engine):
        return None
    try:
        with engine.connect() as connection:
            rows = connection.execute(statement).all()
    except (OperationalError, ProgrammingError) as e:
        logger.warning("reports: no votes read (%s)", str(getattr(e, "orig", e)).strip().splitlines()[0])
        return None
    return [Vote(str(topic), bool(helpful), str(channel or "")) for topic, helpful, channel in rows]
