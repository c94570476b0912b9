"""Users' votes read from `answer_feedback`, on SQLite and PostgreSQL, at China-day boundaries."""
from datetime import date, timedelta, timezone

import pytest

from bot.reports.events import load_events, reader_engine
from bot.reports.period import Period
from bot.reports.quality import Vote
from bot.reports.votes import load_votes
from bot.storage.db import make_engine, migrate, session_scope

PERIOD = Period(date(2026, 11, 29), date(2026, 11, 30))
START = PERIOD.start.astimezone(timezone.utc)  # 2026-11-28 16:00 UTC


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return request.getfixturevalue("pg_databases")().render_as_string(hide_password=False)


def test_votes_inside_the_period_are_read(url):
    from bot.storage.feedback import AnswerFeedback

    engine = make_engine(url)
    try:
        migrate(engine)
        rows = [("a", True, START - timedelta(seconds=1)), ("a", True, START), ("a", False, START + timedelta(hours=30)),
                ("b", False, PERIOD.end.astimezone(timezone.utc) - timedelta(seconds=1)),
                ("b", True, PERIOD.end.astimezone(timezone.utc))]
        with session_scope(engine) as session:
            for topic, helpful, created in rows:
                session.add(AnswerFeedback(conversation_id="c", channel="socketio", topic=topic, question="q",
                                           helpful=helpful, created_at=created))
    finally:
        engine.dispose()
    reader = reader_engine(url)
    try:
        votes = load_votes(reader, PERIOD)
    finally:
        reader.dispose()
    assert sorted(votes, key=lambda v: (v.topic, v.helpful)) == [
        Vote("a", False, "socketio"), Vote("a", True, "socketio"), Vote("b", False, "socketio")]


def test_no_table_means_no_votes_and_nothing_is_created(tmp_path):
    missing = tmp_path / "missing.db"
    reader = reader_engine(f"sqlite:///{missing}")
    assert load_votes(reader, PERIOD) is None and load_events(reader, PERIOD) == []
    assert not missing.exists()
    empty = reader_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with empty.begin() as c:
        c.exec_driver_sql("CREATE TABLE other (x INTEGER)")
    assert load_votes(empty, PERIOD) is None and load_events(empty, PERIOD) == []
    reader.dispose()
    empty.dispose()


def test_the_page_is_registered_in_credentials_yml(root):
    import yaml

    from bot.channels.reports import ReportsInput

    assert "bot.channels.reports.ReportsInput" in yaml.safe_load((root / "credentials.yml").read_text(encoding="utf-8"))
    assert ReportsInput.name() == "reports"
    assert bool(ReportsInput.from_credentials(None, env={"COPILOT_TOKENS": "a-long-token-0123456789, b"}).tokens)
    assert not ReportsInput.from_credentials(None, env={}).tokens
