"""What the assistant makes of one parsed message: an answer it is sure of, or candidates.

Shared by the FAQ action (what to say) and the evaluation (what to score), so the accuracy we
report is the behaviour users get.

Whether an FAQ topic is "sure" is decided on a calibrated confidence (bot.calibration): the
probability, fitted on the development set, that the ranking's top topic is the right one. The
blended ranking confidence itself is not a probability and is only used to order topics.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

FALLBACK = "nlu_fallback"


@dataclass(frozen=True)
class Reading:
    answer: str | None  # a topic id or an intent name; None when the assistant is not sure
    ranking: tuple[str, ...]  # topic ids and intent names, best first (FAQ topics replace `faq`)
    faq: tuple[tuple[str, float], ...]  # (topic id, confidence) from the ResponseSelector
    confidence: float | None = None  # calibrated P(top FAQ topic is right); None unless the intent is `faq`

    @property
    def faq_candidates(self) -> tuple[str, ...]:
        return tuple(topic for topic, _ in self.faq)


def faq_ranking(parse: Mapping[str, Any]) -> tuple[tuple[str, float], ...]:
    ranking = (parse.get("response_selector") or {}).get("faq", {}).get("ranking") or []
    return tuple(
        (str(r["intent_response_key"]).split("/", 1)[-1], float(r.get("confidence") or 0.0))
        for r in ranking
        if r.get("intent_response_key")
    )


def read(parse: dict[str, Any], threshold: float | None = None, calibration: Any = None) -> Reading:
    """Answer an FAQ topic directly when its calibrated confidence reaches the calibration's
    operating threshold (chosen on the development set) and `threshold`, whichever is higher:
    a deployment can raise the bar (FAQ_THRESHOLD) but not answer below the calibrated one.

    `calibration` defaults to the stored one (bot/calibration.json, read on first use)."""
    intent = (parse.get("intent") or {}).get("name")
    faq = faq_ranking(parse)
    merged: list[str] = []
    for item in parse.get("intent_ranking") or [{"name": intent}]:
        name = item.get("name")
        names = [t for t, _ in faq] if name == "faq" else [] if name in (FALLBACK, None) else [name]
        merged.extend(n for n in names if n not in merged)
    confidence = None
    if intent == "faq":
        answer = None
        if faq:
            if calibration is None:
                from bot.calibration import stored

                calibration = stored()
            confidence = calibration.confidence(parse)
            bar = calibration.threshold if threshold is None else max(threshold, calibration.threshold)
            answer = faq[0][0] if confidence >= bar else None
    else:
        answer = None if intent in (FALLBACK, None) else intent
    return Reading(answer=answer, ranking=tuple(merged), faq=faq, confidence=confidence)
