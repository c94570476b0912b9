"""Missed questions: fallbacks, "not sure" turns and out-of-scope turns, near-identical ones grouped.

Grouping is deliberately simple so a reviewer can predict it: texts are compared as the FAQ checker
compares examples (`bot.faq.checker`: normalized, lower-case, punctuation-free, character-bigram
Jaccard similarity). Identical texts are one entry; then, most frequent first, each text not yet in
a group leads a new group that takes every ungrouped text at least SIMILAR to it (leader
clustering: one pass, no chains of "a bit like the last one").
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional

from bot.faq.checker import canonical, near_pairs
from bot.reports.turns import MISSED_KINDS, Turn

SIMILAR = 0.6  # bigram Jaccard: "今天天气怎么样" ~ "今天天气怎么样啊" is 0.86, unrelated questions < 0.3
EXAMPLES = 3


@dataclass(frozen=True)
class MissedGroup:
    count: int  # turns
    examples: tuple  # up to EXAMPLES distinct masked texts, most frequent first
    suggested: Optional[str]  # the topic the FAQ ranking put first most often in the group
    question: str = ""  # that topic's canonical question
    kinds: dict = field(default_factory=dict)  # fallback / choices / out_of_scope -> turns
    channels: dict = field(default_factory=dict)
    conversations: int = 0


def group_texts(texts: list[str], threshold: float = SIMILAR) -> list[list[int]]:
    """Leader clustering of `texts`, already ordered by priority: lists of indexes, leader first."""
    neighbours: dict = defaultdict(set)
    for (a, _), (b, _) in near_pairs([(str(i), t) for i, t in enumerate(texts)], threshold):
        neighbours[int(a)].add(int(b))
        neighbours[int(b)].add(int(a))
    grouped: set = set()
    groups = []
    for leader in range(len(texts)):
        if leader in grouped:
            continue
        members = [leader] + sorted(j for j in neighbours[leader] if j not in grouped and j != leader)
        grouped.update(members)
        groups.append(members)
    return groups


def missed_questions(turns: Iterable[Turn], questions: Mapping[str, str] = {},
                     threshold: float = SIMILAR) -> list[MissedGroup]:
    """Groups of missed turns, biggest first."""
    by_text: dict = defaultdict(list)  # canonical text -> its turns, in the order first seen
    for turn in turns:
        if turn.kind in MISSED_KINDS:
            by_text[canonical(turn.text)].append(turn)
    keys = sorted(by_text, key=lambda k: (-len(by_text[k]), by_text[k][0].timestamp))
    groups = []
    for members in group_texts(keys, threshold):
        group_turns = [t for i in members for t in by_text[keys[i]]]
        wording = Counter(t.text for t in group_turns)
        examples = tuple(text for text, _ in sorted(wording.items(), key=lambda kv: -kv[1])[:EXAMPLES])
        suggested = Counter(t.suggested for t in group_turns if t.suggested).most_common(1)
        topic = suggested[0][0] if suggested else None
        groups.append(MissedGroup(
            count=len(group_turns), examples=examples, suggested=topic, question=questions.get(topic or "", ""),
            kinds=dict(sorted(Counter(t.kind for t in group_turns).items())),
            channels=dict(sorted(Counter(t.channel for t in group_turns).items())),
            conversations=len({t.conversation for t in group_turns})))
    return sorted(groups, key=lambda g: -g.count)  # stable: equal counts keep the frequency order
