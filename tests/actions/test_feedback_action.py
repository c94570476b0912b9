""""有帮助 / 没帮助" under an FAQ answer: the buttons, the two replies, and the stored verdict."""
import asyncio
import json
import logging

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.faq import FEEDBACK_BUTTONS, ActionAnswerFaq, ActionAnswerFeedback, rated_answer
from bot.storage.db import session_scope
from bot.storage.feedback import AnswerFeedback
from tests.actions.helpers import run_action

QUESTION = "个人备案要啥材料 我手机13812345678"
RANKING = [("materials_individual", 0.8), ("materials_company", 0.1), ("filing_free", 0.05),
           ("id_photo_requirements", 0.03), ("contact_hotline", 0.02)]


def parse(text, intent="faq", ranking=()):
    return {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": [],
            "response_selector": {"faq": {"ranking": [
                {"intent_response_key": f"faq/{t}", "confidence": c} for t, c in ranking]}}}


def answered(topic="materials_individual", text=QUESTION, ranking=RANKING, channel="wechat"):
    """The events of one turn in which action_answer_faq answered `topic`."""
    return [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": parse(text, ranking=ranking), "input_channel": channel},
        {"event": "action", "name": "action_answer_faq"},
        {"event": "bot", "text": "…", "data": {}},
        {"event": "slot", "name": "faq_topic", "value": topic},
        {"event": "action", "name": "action_listen"},
    ]


def verdict(tracker_for, intent, events, channel="wechat", text=None):
    tracker = tracker_for(text or f"/{intent}", intent=intent, events=events, slots={"faq_topic": "materials_individual"})
    tracker.events[-1]["input_channel"] = channel
    dispatcher = CollectingDispatcher()
    result = asyncio.run(ActionAnswerFeedback().run(dispatcher, tracker, {}))
    return dispatcher.messages, result


def stored(engine):
    with session_scope(engine) as session:
        return session.execute(select(AnswerFeedback).order_by(AnswerFeedback.id)).scalars().all()


def faq_topics(message):
    return [json.loads(b["payload"][4:])["faq_topic"] for b in message["buttons"] if b["payload"].startswith("/faq{")]


def test_an_answer_ends_with_the_two_feedback_buttons_after_its_related_topics(tracker_for, kb):
    dispatcher = CollectingDispatcher()
    run_action(ActionAnswerFaq(), dispatcher, tracker_for("个人备案要什么材料", ranking=[("materials_individual", 0.9)]), {})
    buttons = dispatcher.messages[0]["buttons"]
    assert buttons[-2:] == FEEDBACK_BUTTONS
    assert [b["payload"] for b in buttons[-2:]] == ["/feedback_helpful", "/feedback_unhelpful"]
    assert len(buttons) == len(kb.get("materials_individual").related) + 2


def test_an_answer_inside_a_form_asks_no_verdict(tracker_for):
    tracker = tracker_for("管局审核要多久", ranking=[("bureau_review_duration", 0.9)])
    tracker.active_loop = {"name": "ticket_form"}
    dispatcher = CollectingDispatcher()
    run_action(ActionAnswerFaq(), dispatcher, tracker, {})
    assert not [b for b in dispatcher.messages[0]["buttons"] if b["payload"].startswith("/feedback")]


def test_helpful_thanks_and_stores_the_masked_question(tracker_for, app_database):
    messages, events = verdict(tracker_for, "feedback_helpful", answered())
    assert messages[0]["text"].startswith("感谢反馈") and not messages[0]["buttons"]
    assert events == []
    [row] = stored(app_database)
    assert (row.topic, row.helpful, row.channel, row.conversation_id) == (
        "materials_individual", True, "wechat", "test-user")
    assert row.question == "个人备案要啥材料 我手机138****5678"
    assert row.created_at.tzinfo is not None


def test_unhelpful_offers_the_other_candidates_a_person_and_a_ticket(tracker_for, app_database, kb):
    messages, _ = verdict(tracker_for, "feedback_unhelpful", answered(), channel="rest")
    assert "没帮上忙" in messages[0]["text"]
    assert faq_topics(messages[0]) == ["materials_company", "filing_free", "id_photo_requirements"]
    assert [b["payload"] for b in messages[0]["buttons"][-2:]] == ["/request_human", "/create_ticket"]
    [row] = stored(app_database)
    assert (row.topic, row.helpful, row.channel) == ("materials_individual", False, "rest")
    assert "13812345678" not in row.question and row.question.startswith("个人备案要啥材料")


def test_unhelpful_on_a_clicked_suggestion_stores_its_title_and_offers_related(tracker_for, app_database, kb):
    clicked = '/faq{"faq_topic": "bureau_review_duration"}'
    messages, _ = verdict(tracker_for, "feedback_unhelpful", answered("bureau_review_duration", clicked, ranking=()))
    topic = kb.get("bureau_review_duration")
    assert faq_topics(messages[0]) == list(topic.related)[:3]
    [row] = stored(app_database)
    assert row.question == topic.question


def test_deny_right_after_an_answer_counts_as_unhelpful(tracker_for, app_database):
    messages, _ = verdict(tracker_for, "deny", answered(), text="不是这个")
    assert faq_topics(messages[0])[0] == "materials_company"
    assert [row.helpful for row in stored(app_database)] == [False]


def test_a_verdict_not_right_after_an_answer_is_not_stored(tracker_for, app_database):
    later = answered() + [
        {"event": "user", "text": "你好", "parse_data": parse("你好", "greet")},
        {"event": "action", "name": "utter_greet"},
        {"event": "action", "name": "action_listen"},
    ]
    messages, _ = verdict(tracker_for, "feedback_unhelpful", later)
    assert faq_topics(messages[0]) == []
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/request_human", "/create_ticket"]
    # A second click on the same buttons: the last action is this one, not the answer.
    twice = answered() + [
        {"event": "user", "text": "/feedback_helpful", "parse_data": parse("/feedback_helpful", "feedback_helpful")},
        {"event": "action", "name": "action_answer_feedback"},
        {"event": "action", "name": "action_listen"},
    ]
    verdict(tracker_for, "feedback_helpful", twice)
    assert stored(app_database) == []


def test_choices_without_an_answer_are_not_rated():
    events = answered()
    del events[4]  # the FAQ action offered choices: it set no topic
    assert rated_answer(events + [{"event": "user", "text": "/feedback_unhelpful"}]) is None
    assert rated_answer(answered() + [{"event": "user", "text": "/feedback_unhelpful"}])[0] == "materials_individual"


def test_database_down_still_thanks_and_logs(tracker_for, unreachable_database, caplog):
    with caplog.at_level(logging.ERROR, logger="actions.faq"):
        messages, events = verdict(tracker_for, "feedback_helpful", answered())
    assert messages[0]["text"].startswith("感谢反馈") and events == []
    assert "answer feedback on materials_individual not stored" in caplog.text
    assert "13812345678" not in caplog.text
