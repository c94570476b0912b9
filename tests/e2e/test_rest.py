"""Through the REST channel, with the real action server: what a user of the widget would see."""
import json

import pytest
import requests

from bot.faq.kb import load_spec
from bot.config import ROOT

pytestmark = pytest.mark.e2e


def must_mention(topic_id):
    return next(t["must_mention"] for t in load_spec(ROOT / "faq") if t["id"] == topic_id)


def test_issue_example_materials_question(assistant):
    reply = assistant.text("个人备案要准备什么材料")
    for needle in must_mention("materials_individual"):
        assert needle in reply


def test_answer_offers_related_topics_as_buttons(assistant, kb):
    messages = assistant.say("管局审核一般要几个工作日")
    buttons = [b for m in messages for b in m.get("buttons", [])]
    assert "20" in messages[0]["text"]
    related = [kb.get(r).question for r in kb.get("bureau_review_duration").related]
    assert [b["title"] for b in buttons] == related + ["有帮助", "没帮助"]  # the verdict buttons come last


def test_clicking_a_suggestion_answers_that_topic(assistant):
    reply = assistant.text('/faq{"faq_topic": "contact_hotline"}')
    assert "4000-955-988" in reply and "950808" in reply


@pytest.mark.parametrize(
    "first, follow_up, topic",
    [
        ("个人备案需要准备哪些材料", "那公司呢?", "materials_company"),
        ("华为云初审要多长时间", "管局那边呢", "bureau_review_duration"),
    ],
)
def test_follow_ups_resolve_from_the_last_topic(assistant, kb, first, follow_up, topic):
    sender = f"follow-{topic}"
    assistant.say(first, sender)
    reply = assistant.text(follow_up, sender)
    assert reply == kb.get(topic).answer


@pytest.mark.parametrize("first, follow_up, province, neighbours", [
    ("华东地区的管局有什么特别要求", "那湖南呢?", "湖南", ("湖北", "河南", "江苏")),
    ("湖北管局有啥特殊规定", "上海呢", "上海", ("江苏", "浙江", "湖北")),
])
def test_a_province_follow_up_answers_that_province_only(assistant, first, follow_up, province, neighbours):
    from bot.faq.kb import load_provinces
    from bot.config import get_settings

    sender = f"province-{province}"
    assistant.say(first, sender)
    reply = assistant.text(follow_up, sender)
    assert reply == load_provinces(get_settings().faq_dir)[province].answer
    assert not any(n in reply for n in neighbours)


def test_a_part_of_the_last_answer_is_answered_alone(assistant, kb):
    sender = "part-how-long"
    assistant.say("华为云初审要多长时间", sender)
    assistant.say("管局那边呢", sender)
    topic = kb.get("bureau_review_duration")
    reply = assistant.text("大概多久", sender)
    assert reply == topic.parts["how_long"] and reply != topic.answer


def test_out_of_scope_is_declined_politely(assistant):
    reply = assistant.text("今天北京天气怎么样")
    assert "只负责ICP备案" in reply


def test_greeting(assistant):
    assert "备案助手" in assistant.text("你好")


def test_asking_for_a_person_gives_the_hotline_and_offers_a_ticket(assistant):
    messages = assistant.say("我要转人工")
    assert "4000-955-988转5" in messages[0]["text"] and "950808转5" in messages[0]["text"]
    assert messages[0]["buttons"] == [{"title": "提交工单", "payload": "/create_ticket"}]


@pytest.mark.parametrize(
    "message",
    ["", "   ", "备案" * 10_000, "😀😀😀", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
     "'; DROP TABLE events; --", "1 OR 1=1", "\x00\x01\x02", "𠀀𠀁𠀂", "ICP" * 3000],
)
def test_bad_input_gets_a_reply_not_an_error(assistant, message):
    r = requests.post(f"{assistant.base}/webhooks/rest/webhook", json={"sender": "bad", "message": message},
                      timeout=60)
    assert r.status_code == 200
    assert isinstance(r.json(), list)
    assert assistant.alive()


@pytest.mark.parametrize(
    "body, content_type",
    [("{not json", "application/json"), ("[]", "application/json"), ('"text"', "application/json"),
     ('{"sender": "x"}', "application/json"), ('{"message": 5, "sender": []}', "application/json"),
     ("message=hi", "application/x-www-form-urlencoded"), (b"\xff\xfe\xfa", "application/json"),
     (json.dumps({"sender": "x", "message": {"nested": [1] * 1000}}), "application/json")],
)
def test_malformed_requests_get_4xx_or_a_reply_never_5xx(assistant, body, content_type):
    r = requests.post(f"{assistant.base}/webhooks/rest/webhook", data=body, headers={"Content-Type": content_type},
                      timeout=30)
    assert r.status_code < 500, (r.status_code, r.text[:200])
    assert assistant.alive()
