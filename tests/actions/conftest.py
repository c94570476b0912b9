"""Tracker fixtures in the shape Rasa sends to the action server."""
import pytest
from rasa_sdk import Tracker


def make_tracker(text, intent="faq", ranking=(), entities=(), slots=None, intent_conf=0.99):
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": intent_conf},
        "intent_ranking": [{"name": intent, "confidence": intent_conf}],
        "entities": list(entities),
        "response_selector": {"faq": {"ranking": [
            {"intent_response_key": f"faq/{t}", "confidence": c} for t, c in ranking]}},
    }
    return Tracker.from_dict({
        "sender_id": "test-user",
        "slots": slots or {},
        "latest_message": latest,
        "events": [{"event": "user", "text": text, "parse_data": latest}],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    })


@pytest.fixture
def tracker_for():
    return make_tracker
