"""Each report as one table (headers, rows): what the terminal, the CSV files and the page show."""
from __future__ import annotations

from typing import Any, Sequence

from bot.reports.daily import channels_of
from bot.reports.turns import channel_label

Table = tuple[list[str], list[list[Any]]]


def _channel_header(channel: str) -> str:
    """'网页(socketio)': the people's name and the id the data uses."""
    label = channel_label(channel)
    return f"{label}({channel})" if label.lower() != channel else channel


def _percent(value) -> str:
    return "" if value is None else f"{value * 100:.0f}%"


def hot_table(rows: Sequence) -> Table:
    channels = channels_of(rows)
    headers = ["#", "topic", "question", "turns", "conversations", *map(_channel_header, channels)]
    return headers, [[i, r.topic, r.question, r.count, r.conversations, *(r.channels.get(c, 0) for c in channels)]
                     for i, r in enumerate(rows, 1)]


def missed_table(groups: Sequence) -> Table:
    headers = ["#", "count", "suggested_topic", "suggested_question", "fallback", "choices", "out_of_scope",
               "example_1", "example_2", "example_3"]
    return headers, [[i, g.count, g.suggested or "", g.question, g.kinds.get("fallback", 0), g.kinds.get("choices", 0),
                      g.kinds.get("out_of_scope", 0), *(list(g.examples) + ["", "", ""])[:3]]
                     for i, g in enumerate(groups, 1)]


def quality_table(rows: Sequence) -> Table:
    headers = ["topic", "question", "conversations", "escalated", "escalation_rate", "helpful", "not_helpful",
               "helpful_rate"]
    return headers, [[r.topic, r.question, r.conversations, r.escalated, _percent(r.escalation_rate), r.helpful,
                      r.not_helpful, _percent(r.helpful_rate)] for r in rows]


def daily_table(rows: Sequence) -> Table:
    channels = channels_of(rows)
    headers = ["day", "total", *map(_channel_header, channels)]
    return headers, [[r.day, r.total, *(r.channels.get(c, 0) for c in channels)] for r in rows]


TABLES = {"hot": ("hot", hot_table), "missed": ("missed", missed_table), "quality": ("quality", quality_table),
          "daily": ("daily", daily_table)}
