"""All four reports for one period, from the tracker store and the app database.

The one place that touches the databases and the knowledge base; the CLI and the reports page both
call `build()`, so the table on screen and the CSV file say the same thing.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from bot.reports.daily import daily_volume
from bot.reports.hot import hot_questions
from bot.reports.missed import missed_questions
from bot.reports.period import Period
from bot.reports.quality import answer_quality
from bot.reports.turns import Turn, turns_from_events


@dataclass(frozen=True)
class Reports:
    period: Period
    turns: int
    hot: list = field(default_factory=list)  # bot.reports.hot.HotRow
    missed: list = field(default_factory=list)  # bot.reports.missed.MissedGroup
    quality: list = field(default_factory=list)  # bot.reports.quality.QualityRow
    daily: list = field(default_factory=list)  # bot.reports.daily.DayRow
    votes_available: bool = True  # False: the app database has no answer_feedback table yet

    def to_json(self, missed_limit: Optional[int] = None) -> dict[str, Any]:
        return {
            "since": self.period.since.isoformat(), "until": self.period.until.isoformat(),
            "turns": self.turns,
            "hot": [asdict(r) for r in self.hot],
            "missed": [{**asdict(g), "examples": list(g.examples)} for g in self.missed[:missed_limit]],
            "quality": [{**asdict(r), "escalation_rate": r.escalation_rate, "helpful_rate": r.helpful_rate}
                        for r in self.quality],
            "daily": [asdict(r) for r in self.daily],
            "votes_available": self.votes_available,
        }


def compute(turns: list[Turn], period: Period, votes: Optional[list] = None,
            questions: Optional[dict] = None) -> Reports:
    """The reports from turns and votes already read (pure)."""
    questions = questions or {}
    return Reports(period=period, turns=len(turns), hot=hot_questions(turns, questions),
                   missed=missed_questions(turns, questions),
                   quality=answer_quality(turns, votes or [], questions),
                   daily=daily_volume(turns, period), votes_available=votes is not None)


def topic_questions() -> dict[str, str]:
    """Topic id -> canonical question, from faq/ ({} when it cannot be read: ids still work)."""
    from bot.config import get_settings
    from bot.faq.kb import load_kb

    try:
        return {t.id: t.question for t in load_kb(get_settings().faq_dir).topics}
    except (OSError, ValueError):
        return {}


def build(period: Period, tracker_url: Optional[str] = None, database_url: Optional[str] = None,
          threshold: Optional[float] = None) -> Reports:
    """Read the period from TRACKER_STORE_URL and DATABASE_URL (or the URLs given) and compute."""
    from bot.config import get_settings
    from bot.reports.events import load_events, reader_engine
    from bot.reports.votes import load_votes
    from bot.storage.db import database_url as app_database_url
    from bot.storage.rasa_stores import tracker_store_url

    threshold = get_settings().faq_threshold if threshold is None else threshold
    tracker = reader_engine(tracker_url or tracker_store_url())
    app = reader_engine(database_url or app_database_url().render_as_string(hide_password=False))
    try:
        turns = turns_from_events(load_events(tracker, period), threshold)
        votes = load_votes(app, period)
    finally:
        tracker.dispose()
        app.dispose()
    return compute(turns, period, votes, topic_questions())
