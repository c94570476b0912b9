"""Users' "有帮助 / 没帮助" on FAQ answers (answer_feedback), on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from bot.storage.db import downgrade, migrate, session_scope
from bot.storage.feedback import AnswerFeedback, add_answer_feedback


def test_a_verdict_is_stored_with_its_question_topic_and_channel(engine):
    before = datetime.now(timezone.utc)
    with session_scope(engine) as session:
        first = add_answer_feedback(session, conversation_id="wx-openid-1", channel="wechat",
                                    topic="materials_individual", question="个人备案要什么材料 138****5678",
                                    helpful=False).id
        add_answer_feedback(session, conversation_id="web-2", channel="", topic="materials_individual",
                            question="个人备案材料", helpful=True)
    with session_scope(engine) as session:
        rows = session.execute(select(AnswerFeedback).order_by(AnswerFeedback.id)).scalars().all()
    assert [r.id for r in rows][0] == first
    assert [(r.conversation_id, r.channel, r.topic, r.question, r.helpful) for r in rows] == [
        ("wx-openid-1", "wechat", "materials_individual", "个人备案要什么材料 138****5678", False),
        ("web-2", "", "materials_individual", "个人备案材料", True),
    ]
    for row in rows:  # aware UTC on both backends
        assert row.created_at.tzinfo is not None and row.created_at.utcoffset() == timedelta(0)
        assert before - timedelta(seconds=5) <= row.created_at <= datetime.now(timezone.utc) + timedelta(seconds=5)


def test_the_topic_and_time_index_serves_a_topic_report(engine):
    with session_scope(engine) as session:
        for helpful in (True, False, False):
            add_answer_feedback(session, conversation_id="c", channel="rest", topic="filing_free",
                                question="备案收费吗", helpful=helpful)
        add_answer_feedback(session, conversation_id="c", channel="rest", topic="contact_hotline",
                            question="电话多少", helpful=True)
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    with session_scope(engine) as session:
        verdicts = session.execute(select(AnswerFeedback.helpful).where(
            AnswerFeedback.topic == "filing_free", AnswerFeedback.created_at >= since)).scalars().all()
    assert sorted(verdicts) == [False, False, True]
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("answer_feedback")}
    assert indexes["ix_answer_feedback_topic_created_at"] == ["topic", "created_at"]


def test_missing_required_values_are_refused_and_channel_defaults_to_empty(engine):
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO answer_feedback (conversation_id, channel, topic, helpful, created_at) "
                             "VALUES ('c', 'rest', 'filing_free', TRUE, '2026-11-30 00:00:00')")  # no question
    with engine.begin() as conn:  # a writer that leaves channel out gets ""
        conn.exec_driver_sql("INSERT INTO answer_feedback (conversation_id, topic, question, helpful, created_at) "
                             "VALUES ('c', 'filing_free', 'q', FALSE, '2026-11-30 00:00:00')")
    with session_scope(engine) as session:
        assert session.execute(select(AnswerFeedback.channel)).scalar_one() == ""


def test_migration_0003_adds_and_removes_only_its_table(empty_engine):
    migrate(empty_engine, "0002")
    assert "answer_feedback" not in inspect(empty_engine).get_table_names()
    migrate(empty_engine)
    columns = {c["name"]: c for c in inspect(empty_engine).get_columns("answer_feedback")}
    assert set(columns) == {"id", "conversation_id", "channel", "topic", "question", "helpful", "created_at"}
    assert not any(c["nullable"] for c in columns.values())
    downgrade(empty_engine, "0002")
    tables = set(inspect(empty_engine).get_table_names())
    assert "answer_feedback" not in tables and "suggestion_feedback" in tables
