"""The period a report covers: whole days in China time, both ends included.

Operators think in Beijing days ("yesterday's questions"), while the tracker store keeps UTC epoch
seconds; a Period turns one into the other in a single place.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Iterator, Optional

from bot.storage.models import CHINA_TZ

DEFAULT_DAYS = 7


@dataclass(frozen=True)
class Period:
    since: date  # first day, China time
    until: date  # last day, included

    def __post_init__(self) -> None:
        if self.until < self.since:
            raise ValueError(f"--until {self.until} is before --since {self.since}")

    @property
    def start(self) -> datetime:
        """The first instant (aware, China time)."""
        return datetime.combine(self.since, time.min, CHINA_TZ)

    @property
    def end(self) -> datetime:
        """The instant after the last one (exclusive)."""
        return datetime.combine(self.until + timedelta(days=1), time.min, CHINA_TZ)

    @property
    def start_ts(self) -> float:
        return self.start.timestamp()

    @property
    def end_ts(self) -> float:
        return self.end.timestamp()

    def days(self) -> Iterator[date]:
        day = self.since
        while day <= self.until:
            yield day
            day += timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.since.isoformat()} … {self.until.isoformat()} (China time)"


def china_today(now: Optional[datetime] = None) -> date:
    return (now or datetime.now(CHINA_TZ)).astimezone(CHINA_TZ).date()


def day_of(timestamp: float) -> date:
    """The China-time day of a tracker-store timestamp (UTC epoch seconds)."""
    return datetime.fromtimestamp(timestamp, CHINA_TZ).date()


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date like 2026-11-30") from None


def period_from(since: Optional[str] = None, until: Optional[str] = None, *,
                today: Optional[date] = None, days: int = DEFAULT_DAYS) -> Period:
    """`--since/--until` (YYYY-MM-DD, either may be missing): by default the last `days` days up to
    today; with only --since, up to today; with only --until, the `days` days ending then."""
    end = parse_day(until) if until else (today or china_today())
    start = parse_day(since) if since else end - timedelta(days=days - 1)
    return Period(start, end)
