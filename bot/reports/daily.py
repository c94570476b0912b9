"""Daily volume: user turns per China-time day and channel, every day of the period listed."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from bot.reports.period import Period, day_of
from bot.reports.turns import Turn


@dataclass(frozen=True)
class DayRow:
    day: str  # YYYY-MM-DD, China time
    total: int
    channels: dict = field(default_factory=dict)  # channel -> user turns


def daily_volume(turns: Iterable[Turn], period: Period) -> list[DayRow]:
    counts: dict = {day: Counter() for day in period.days()}
    for turn in turns:
        day = day_of(turn.timestamp)
        if day in counts:
            counts[day][turn.channel] += 1
    return [DayRow(day.isoformat(), sum(c.values()), dict(sorted(c.items()))) for day, c in counts.items()]


def channels_of(rows: Iterable) -> list[str]:
    """Every channel named in rows with a `channels` dict, sorted: the columns of a table."""
    return sorted({channel for row in rows for channel in row.channels})
