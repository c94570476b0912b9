"""Tracker-store events as Rasa writes them (the `data` JSON of the `events` table), for unit tests."""
from __future__ import annotations

from bot.reports.events import Event


def parse(intent: str, confidence: float = 0.9, faq: tuple = ()) -> dict:
    """parse_data with an intent and an FAQ ranking [(topic, confidence)], as the pipeline outputs it."""
    ranking = [{"intent_response_key": f"faq/{t}", "confidence": c} for t, c in faq]
    return {"intent": {"name": intent, "confidence": confidence},
            "intent_ranking": [{"name": intent, "confidence": confidence}],
            "response_selector": {"faq": {"ranking": ranking}}}


def user(conversation: str, ts: float, text: str, intent: str = "faq", confidence: float = 0.9, faq: tuple = (),
         channel: str = "rest") -> Event:
    return Event(conversation, "user", ts, None, {"event": "user", "timestamp": ts, "text": text,
                                                  "parse_data": {"text": text, **parse(intent, confidence, faq)},
                                                  "input_channel": channel})


def action(conversation: str, ts: float, name: str) -> Event:
    return Event(conversation, "action", ts, name, {"event": "action", "name": name, "timestamp": ts})


def slot(conversation: str, ts: float, name: str, value) -> Event:
    return Event(conversation, "slot", ts, name, {"event": "slot", "name": name, "value": value, "timestamp": ts})


def answered(conversation: str, ts: float, text: str, topic: str, channel: str = "rest", confidence: float = 0.9):
    """A user turn the FAQ action answered on `topic`."""
    return [user(conversation, ts, text, faq=((topic, confidence), ("other_topic", 0.05)), channel=channel),
            action(conversation, ts + 0.1, "action_answer_faq"), slot(conversation, ts + 0.2, "faq_topic", topic)]
