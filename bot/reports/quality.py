"""Answer quality per topic: users' helpful / not helpful votes and how often a hand-over followed.

The escalation rate is the share of conversations answered on a topic that later, in the same
conversation, reached the hotline hand-over or a stored ticket: a topic whose answer leaves people
asking for a person is one to rewrite, whatever its votes say.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional

from bot.reports.turns import ANSWERED, Turn


@dataclass(frozen=True)
class Vote:
    """One row of `answer_feedback` as the report needs it."""

    topic: str
    helpful: bool
    channel: str = ""


@dataclass(frozen=True)
class QualityRow:
    topic: str
    question: str
    conversations: int  # conversations answered on the topic
    escalated: int  # … of which later went to a person (hotline hand-over or ticket)
    helpful: int
    not_helpful: int

    @property
    def escalation_rate(self) -> Optional[float]:
        return self.escalated / self.conversations if self.conversations else None

    @property
    def helpful_rate(self) -> Optional[float]:
        votes = self.helpful + self.not_helpful
        return self.helpful / votes if votes else None


def answer_quality(turns: Iterable[Turn], votes: Iterable[Vote], questions: Mapping[str, str] = {}) -> list[QualityRow]:
    """One row per topic answered or voted on, most answered first."""
    answered: dict = defaultdict(set)
    escalated: dict = defaultdict(set)
    for turn in turns:
        if turn.kind == ANSWERED and turn.topic:
            answered[turn.topic].add(turn.conversation)
            if turn.escalated:
                escalated[turn.topic].add(turn.conversation)
    helpful: Counter[str] = Counter()
    unhelpful: Counter[str] = Counter()
    for vote in votes:
        (helpful if vote.helpful else unhelpful)[vote.topic] += 1
    topics = set(answered) | set(helpful) | set(unhelpful)
    rows = [QualityRow(t, questions.get(t, ""), len(answered[t]), len(escalated[t]), helpful[t], unhelpful[t])
            for t in topics]
    return sorted(rows, key=lambda r: (-r.conversations, -(r.helpful + r.not_helpful), r.topic))
