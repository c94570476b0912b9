"""What became of each user turn: answered (which topic), choices offered, fallback, out of scope.

A turn is judged by what the assistant did (the `faq_topic` slot that action_answer_faq sets when it
answers, so follow-ups and clicked buttons count as answers) and, when it did not answer, by the
same reading the FAQ action uses (`bot.ranking.read` with FAQ_THRESHOLD): an FAQ parse whose best
topic is below the threshold is a "choices" turn. A conversation is escalated after a turn when a
hand-over (action_human_handoff) or a stored ticket (slot ticket_no) follows it.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Iterable, Optional

from bot.ranking import FALLBACK, faq_ranking, read
from bot.reports.events import ANSWER_FAQ, FAQ_TOPIC_SLOT, HANDOFF, SESSION_START, TICKET_SLOT, Event
from bot.storage.privacy import mask_text

ANSWERED, CHOICES, FALLBACK_KIND, OUT_OF_SCOPE, OTHER = "answered", "choices", "fallback", "out_of_scope", "other"
MISSED_KINDS = (FALLBACK_KIND, CHOICES, OUT_OF_SCOPE)
# Full-width digits, Latin letters and @ . + - _ folded to ASCII so masking sees phone numbers and
# addresses typed on a Chinese keyboard; full-width punctuation (，？！) is left as typed.
_FOLD = {c: c - 0xFEE0 for c in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B),
                                 0xFF20, 0xFF0E, 0xFF0B, 0xFF0D, 0xFF3F)}
CHANNEL_LABELS = {"socketio": "网页", "web": "网页", "wechat": "微信", "rest": "REST", "copilot": "copilot"}


@dataclass(frozen=True)
class Turn:
    conversation: str
    timestamp: float
    channel: str  # Rasa's input_channel: socketio, wechat, rest, …
    text: str  # masked: no phone number, e-mail address or order number
    intent: Optional[str]
    kind: str  # answered | choices | fallback | out_of_scope | other
    topic: Optional[str]  # the FAQ topic answered
    suggested: Optional[str]  # the top of the turn's FAQ ranking
    escalated: bool  # a hand-over or a ticket followed, later in the same conversation


def shown(text: str) -> str:
    """Text fit for a report: full-width digits and letters folded (so masking sees them), then masked."""
    return mask_text((text or "").translate(_FOLD), orders=True).strip()


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel)


def classify(parse: dict, topic: Optional[str], threshold: float) -> str:
    intent = (parse.get("intent") or {}).get("name")
    if topic:
        return ANSWERED
    if intent == "out_of_scope":
        return OUT_OF_SCOPE
    if intent in (FALLBACK, None):
        return FALLBACK_KIND
    if intent == "faq" and read(parse, threshold).answer is None:
        return CHOICES
    return OTHER


def _conversation_turns(conversation: str, events: list[Event], threshold: float) -> list[Turn]:
    pending: list[dict] = []  # the turns of this conversation, built up event by event
    current: Optional[dict] = None
    escalations: list[float] = []
    for event in events:
        if event.type == "user":
            current = {"event": event, "answered_by_action": False, "topic": None}
            pending.append(current)
        elif event.type == "action" and event.name == SESSION_START:
            current = None  # slots carried over into a new session belong to no turn
        elif event.type == "action" and event.name == HANDOFF:
            escalations.append(event.timestamp)
        elif event.type == "action" and event.name == ANSWER_FAQ and current is not None:
            current["answered_by_action"] = True
        elif event.type == "slot" and event.name == TICKET_SLOT and event.data.get("value"):
            escalations.append(event.timestamp)
        elif (event.type == "slot" and event.name == FAQ_TOPIC_SLOT and current is not None
              and current["answered_by_action"] and event.data.get("value")):
            current["topic"] = str(event.data["value"])
    turns = []
    for item in pending:
        event = item["event"]
        parse = event.data.get("parse_data") or {}
        ranking = faq_ranking(parse)
        turns.append(Turn(
            conversation=conversation,
            timestamp=event.timestamp,
            channel=str(event.data.get("input_channel") or "unknown"),
            text=shown(event.data.get("text") or ""),
            intent=(parse.get("intent") or {}).get("name"),
            kind=classify(parse, item["topic"], threshold),
            topic=item["topic"],
            suggested=ranking[0][0] if ranking else None,
            escalated=any(t > event.timestamp for t in escalations),
        ))
    return turns


def turns_from_events(events: Iterable[Event], threshold: float) -> list[Turn]:
    """Every user turn of the events (grouped by conversation, in order within each)."""
    out: list[Turn] = []
    for conversation, group in groupby(events, key=lambda e: e.conversation):
        out += _conversation_turns(conversation, list(group), threshold)
    return out
