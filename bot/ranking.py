"""What the assistant makes of one parsed message: an answer it is sure of, or candidates.

Shared by the FAQ action (what to say) and the evaluation (what to score), so the accuracy we
report is the behaviour users get.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FALLBACK = "nlu_fallback"


@dataclass(frozen=True)
class Reading:
    answer: str | None  # a topic id or an intent name; None when the assistant is not sure
    ranking: tuple[str, ...]  # topic ids and intent names, best first (FAQ topics replace `faq`)
    faq: tuple[tuple[str, float], ...]  # (topic id, confidence) from the ResponseSelector

    @property
    def faq_candidates(self) -> tuple[str, ...]:
        return tuple(topic for topic, _ in self.faq)


def faq_ranking(parse: dict[str, Any]) -> tuple[tuple[str, float], ...]:
    ranking = (parse.get("response_selector") or {}).get("faq", {}).get("ranking") or []
    return tuple(
        (str(r["intent_response_key"]).split("/", 1)[-1], float(r.get("confidence") or 0.0))
        for r in ranking
        if r.get("intent_response_key")
    )


def read(parse: dict[str, Any], threshold: float) -> Reading:
    intent = (parse.get("intent") or {}).get("name")
    faq = faq_ranking(parse)
    merged: list[str] = []
    for item in parse.get("intent_ranking") or [{"name": intent}]:
        name = item.get("name")
        names = [t for t, _ in faq] if name == "faq" else [] if name in (FALLBACK, None) else [name]
        merged.extend(n for n in names if n not in merged)
    if intent == "faq":
        answer = faq[0][0] if faq and faq[0][1] >= threshold else None
    else:
        answer = None if intent in (FALLBACK, None) else intent
    return Reading(answer=answer, ranking=tuple(merged), faq=faq)
