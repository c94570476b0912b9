"""The copilot's pure parts: what makes a request acceptable, and what a parse, an order and a
tracker look like to an agent. bot/channels/copilot.py serves them."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, Iterable, List, Mapping, Optional

from rasa.shared.core.events import BotUttered, UserUttered

from bot.channels.render import to_plain
from bot.faq.kb import KnowledgeBase
from bot.order_status import STATUS_TEXTS
from bot.ranking import faq_ranking
from bot.storage.models import CHINA_TZ

MAX_TEXT_CHARS = 2000
MAX_ID_CHARS = 255
MAX_CANDIDATES = 5
MIN_CANDIDATES = 3
CANDIDATE_FLOOR = 0.01  # candidates beyond the third below this confidence are noise
VERDICTS = ("used", "wrong")


# --- request checks (pure) ----------------------------------------------------------------------


def _text_problem(value: Any, key: str = "text") -> Optional[str]:
    if not isinstance(value, str):
        return f"\"{key}\" must be a string"
    if not value.strip():
        return f"\"{key}\" must not be empty"
    if len(value) > MAX_TEXT_CHARS:
        return f"\"{key}\" is longer than {MAX_TEXT_CHARS} characters"
    return None


def id_problem(value: Any) -> Optional[str]:
    if value is not None and (not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS):
        return f"\"conversation_id\" must be a string of 1 to {MAX_ID_CHARS} characters"
    return None


def suggest_problem(body: Any) -> Optional[str]:
    """Why a decoded body cannot be a suggest request, or None when it can."""
    if not isinstance(body, dict):
        return "the body must be a JSON object like {\"text\": \"…\"}"
    if "text" not in body:
        return "\"text\" is required"
    return _text_problem(body["text"]) or id_problem(body.get("conversation_id"))


def feedback_problem(body: Any, kb: KnowledgeBase) -> Optional[str]:
    """Why a decoded body cannot be feedback, or None when it can."""
    if not isinstance(body, dict):
        return "the body must be a JSON object like {\"topic\": \"…\", \"text\": \"…\", \"verdict\": \"used\"}"
    for key in ("topic", "text", "verdict"):
        if key not in body:
            return f"\"{key}\" is required"
    topic = body["topic"]
    if not isinstance(topic, str) or kb.get(topic) is None:
        return "\"topic\" must be a topic id of the knowledge base"
    if not isinstance(body["verdict"], str) or body["verdict"] not in VERDICTS:
        return "\"verdict\" must be \"used\" or \"wrong\""
    return _text_problem(body["text"]) or id_problem(body.get("conversation_id"))


# --- what a parse, an order and a tracker look like to an agent (pure) --------------------------


def intent_view(parse: Mapping[str, Any]) -> Dict[str, Any]:
    intent = parse.get("intent") or {}
    return {"name": intent.get("name"), "confidence": float(intent.get("confidence") or 0.0)}


def entities_view(entities: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    keys = ("entity", "value", "start", "end", "role", "group")
    return [{k: e[k] for k in keys if e.get(k) is not None} for e in entities or () if e.get("entity")]


def candidates(parse: Mapping[str, Any], kb: KnowledgeBase, first: Optional[str] = None) -> List[Dict[str, Any]]:
    """The 3-5 best FAQ topics, best first: five, less the weak ones beyond the third.

    `first` (a resolved follow-up) leads with confidence 1.0, as the FollowupRouter asserts."""
    topics = kb.by_id()
    ranked = sorted(((t, c) for t, c in faq_ranking(parse) if t in topics and t != first), key=lambda r: -r[1])
    if first in topics:
        ranked.insert(0, (first, 1.0))
    ranked = ranked[:MAX_CANDIDATES]
    while len(ranked) > MIN_CANDIDATES and ranked[-1][1] < CANDIDATE_FLOOR:
        ranked.pop()
    return [{"topic": t, "question": topics[t].question, "answer": topics[t].answer,
             "answer_plain": to_plain(topics[t].answer), "confidence": c}
            for t, c in ranked]


def order_id_in(entities: Iterable[Mapping[str, Any]]) -> Optional[str]:
    return next((str(e["value"]) for e in entities or () if e.get("entity") == "order_id" and e.get("value")), None)


def order_view(order: Any) -> Dict[str, Any]:
    """An order as agents see it: status and what it means; no name or phone number."""
    text = STATUS_TEXTS.get(order.status)
    return {
        "order_no": order.order_no,
        "status": order.status,
        "status_label": text.label if text else order.status,
        "status_detail": order.status_detail or "",
        "icp_number": order.icp_number,
        "province": order.province,
        "updated_at": order.updated_at.astimezone(CHINA_TZ).isoformat() if order.updated_at else None,
        "meaning": text.meaning if text else "",
        "wait": text.wait if text else "",
        "next_step": text.next_step if text else "",
    }


def _time(timestamp: Optional[float]) -> Optional[str]:
    return datetime.fromtimestamp(timestamp, CHINA_TZ).isoformat(timespec="seconds") if timestamp else None


def transcript(events: Iterable[Any]) -> List[Dict[str, Any]]:
    """User and bot turns in order; a user turn carries its intent, confidence, FAQ topic, entities."""
    turns: List[Dict[str, Any]] = []
    for event in events:
        if isinstance(event, UserUttered):
            parse = event.parse_data or {}
            intent = intent_view(parse)
            turn: Dict[str, Any] = {"who": "user", "text": event.text or "", "time": _time(event.timestamp),
                                    "intent": intent["name"], "confidence": intent["confidence"]}
            ranking = faq_ranking(parse) if intent["name"] == "faq" else ()
            if ranking:
                turn["faq_topic"] = {"topic": ranking[0][0], "confidence": ranking[0][1]}
            entities = entities_view(parse.get("entities") or event.entities or ())
            if entities:
                turn["entities"] = entities
            turns.append(turn)
        elif isinstance(event, BotUttered):
            turn = {"who": "bot", "text": event.text or "", "time": _time(event.timestamp)}
            buttons = [b.get("title") for b in (event.data or {}).get("buttons") or () if isinstance(b, dict)]
            if buttons:
                turn["buttons"] = buttons
            turns.append(turn)
    return turns
