""""有帮助 / 没帮助" through REST with the real servers and database: buttons, replies, stored rows."""
import json
import uuid

import pytest
from sqlalchemy import select

from bot.storage.db import session_scope
from bot.storage.feedback import AnswerFeedback

pytestmark = pytest.mark.e2e

HELPFUL, UNHELPFUL = "/feedback_helpful", "/feedback_unhelpful"


def new_sender(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def feedback_of(engine, sender):
    with session_scope(engine) as session:
        return session.execute(select(AnswerFeedback).where(AnswerFeedback.conversation_id == sender)
                               .order_by(AnswerFeedback.id)).scalars().all()


def buttons(messages):
    return [b for m in messages for b in m.get("buttons", [])]


def test_unhelpful_then_another_candidate_then_helpful(assistant, app_db, kb):
    s = new_sender("feedback")
    answer = assistant.say("个人备案要准备什么材料 我手机13812345678", s)
    offered = buttons(answer)
    related = kb.get("materials_individual").related
    assert [b["title"] for b in offered] == [kb.get(r).question for r in related] + ["有帮助", "没帮助"]
    assert [b["payload"] for b in offered[-2:]] == [HELPFUL, UNHELPFUL]

    sorry = assistant.say(UNHELPFUL, s)
    assert "没帮上忙" in sorry[0]["text"]
    choices = [b["payload"] for b in buttons(sorry)]
    assert choices[-2:] == ["/request_human", "/create_ticket"]
    candidates = [json.loads(p[4:])["faq_topic"] for p in choices if p.startswith("/faq{")]
    assert candidates and "materials_individual" not in candidates

    other = kb.get(candidates[0])
    assert assistant.text(choices[0], s).startswith(other.answer.strip()[:10])
    assert "感谢反馈" in assistant.text(HELPFUL, s)

    rows = feedback_of(app_db[1], s)
    assert [(r.topic, r.helpful, r.channel) for r in rows] == [
        ("materials_individual", False, "rest"), (other.id, True, "rest")]
    assert rows[0].question == "个人备案要准备什么材料 我手机138****5678"
    assert rows[1].question == other.question  # a clicked suggestion: the button's title


def test_typed_verdicts_after_an_answer(assistant, app_db):
    s = new_sender("typed")
    assistant.say("管局审核一般要几个工作日", s)
    assert "没帮上忙" in assistant.text("没用", s)
    assistant.say("管局审核一般要几个工作日", s)
    assert "感谢反馈" in assistant.text("有帮助", s)
    assert [(r.topic, r.helpful) for r in feedback_of(app_db[1], s)] == [
        ("bureau_review_duration", False), ("bureau_review_duration", True)]


def test_the_person_offered_after_an_unhelpful_answer(assistant):
    s = new_sender("person")
    assistant.say("管局审核一般要几个工作日", s)
    assistant.say(UNHELPFUL, s)
    messages = assistant.say("/request_human", s)
    assert "4000-955-988转5" in messages[0]["text"]
