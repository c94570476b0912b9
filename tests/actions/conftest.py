"""Tracker fixtures in the shape Rasa sends to the action server."""
import pytest
from rasa_sdk import Tracker


def make_tracker(text, intent="faq", ranking=(), entities=(), slots=None, intent_conf=0.99, sender="test-user",
                 events=None):
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": intent_conf},
        "intent_ranking": [{"name": intent, "confidence": intent_conf}],
        "entities": list(entities),
        "response_selector": {"faq": {"ranking": [
            {"intent_response_key": f"faq/{t}", "confidence": c} for t, c in ranking]}},
    }
    return Tracker.from_dict({
        "sender_id": sender,
        "slots": slots or {},
        "latest_message": latest,
        "events": (events or []) + [{"event": "user", "text": text, "parse_data": latest}],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    })


@pytest.fixture
def tracker_for():
    return make_tracker


@pytest.fixture
def app_database(tmp_path, monkeypatch):
    """DATABASE_URL pointing at a fresh migrated SQLite file with the demo orders."""
    from bot.config import ROOT, get_settings
    from bot.storage import db
    from bot.storage.orders_csv import import_orders

    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    db.dispose_engines()
    get_settings.cache_clear()
    db.migrate(db.get_engine())
    with db.session_scope() as session:
        assert import_orders(session, ROOT / "data" / "demo" / "orders.csv").ok
    yield db.get_engine()
    db.dispose_engines()
    get_settings.cache_clear()


@pytest.fixture
def unreachable_database(monkeypatch):
    """A PostgreSQL URL on a loopback port where nothing listens."""
    from bot.config import get_settings
    from bot.storage import db

    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:9/none?connect_timeout=2")
    db.dispose_engines()
    get_settings.cache_clear()
    yield
    db.dispose_engines()
    get_settings.cache_clear()

