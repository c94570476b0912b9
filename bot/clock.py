"""What time it is for a conversation: China time, injectable for the conversation tests.

Service hours and "how long has this order waited" depend on the clock. A conversation test sets
`metadata.clock` ("2026-12-02 23:30", China time) on its messages; it is honoured only when
TEST_CLOCK is set, so nobody in production can move the bot's clock.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Mapping, Optional

from bot.config import get_settings
from bot.storage.models import CHINA_TZ


def parse_clock(value: Any) -> Optional[datetime]:
    """'2026-12-02 23:30' (China time) or an ISO timestamp with an offset; None when unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=CHINA_TZ) if moment.tzinfo is None else moment.astimezone(CHINA_TZ)


def china_now(metadata: Optional[Mapping[str, Any]] = None) -> datetime:
    """Now in China time, or the message's test clock where TEST_CLOCK allows it."""
    if metadata and get_settings().test_clock:
        injected = parse_clock(metadata.get("clock"))
        if injected is not None:
            return injected
    return datetime.now(CHINA_TZ)


def tracker_now(tracker) -> datetime:
    """`china_now` for the message a rasa_sdk tracker is answering."""
    return china_now((tracker.latest_message or {}).get("metadata") or {})


def working_days_between(start: date, end: date) -> int:
    """Weekdays after `start` up to and including `end` (public holidays are not known here)."""
    days, current = 0, start
    while current < end:
        current += timedelta(days=1)
        days += current.weekday() < 5
    return days
