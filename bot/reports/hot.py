"""Hot questions: the FAQ topics answered most often, with how many came through each channel."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from bot.reports.turns import ANSWERED, Turn


@dataclass(frozen=True)
class HotRow:
    topic: str
    question: str  # the topic's canonical question, for people who don't know the ids
    count: int  # answered turns
    conversations: int
    channels: dict = field(default_factory=dict)  # channel -> answered turns


def hot_questions(turns: Iterable[Turn], questions: Mapping[str, str] = {}) -> list[HotRow]:
    """Answered turns per topic, most asked first (ties by topic id, so the order is stable)."""
    counts: Counter = Counter()
    channels: dict = defaultdict(Counter)
    conversations: dict = defaultdict(set)
    for turn in turns:
        if turn.kind == ANSWERED and turn.topic:
            counts[turn.topic] += 1
            channels[turn.topic][turn.channel] += 1
            conversations[turn.topic].add(turn.conversation)
    return [HotRow(topic, questions.get(topic, ""), n, len(conversations[topic]), dict(sorted(channels[topic].items())))
            for topic, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
