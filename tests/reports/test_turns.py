"""What became of each turn, judged from the events Rasa stored (no servers)."""
from datetime import date

import pytest

from bot.reports.build import compute
from bot.reports.daily import daily_volume
from bot.reports.hot import hot_questions
from bot.reports.period import Period
from bot.reports.quality import Vote, answer_quality
from bot.reports.turns import ANSWERED, CHOICES, FALLBACK_KIND, OTHER, OUT_OF_SCOPE, classify, turns_from_events
from events_factory import action, answered, parse, slot, user

T0 = 1_796_000_000.0  # 2026-11-30 08:53 China time
THRESHOLD = 0.5


@pytest.mark.parametrize("parsed, topic, kind", [
    (parse("faq", 0.9, (("materials_individual", 0.8),)), "materials_individual", ANSWERED),
    (parse("faq", 0.9, (("materials_individual", 0.3), ("materials_company", 0.2))), None, CHOICES),
    (parse("faq", 0.9, (("materials_individual", 0.99),)), None, OTHER),  # confident, yet the action did not answer
    (parse("nlu_fallback", 0.3, (("materials_individual", 0.2),)), None, FALLBACK_KIND),
    (parse("out_of_scope", 0.95), None, OUT_OF_SCOPE),
    (parse("greet", 0.99), None, OTHER),
    # a follow-up ("那公司呢") or a clicked button: the action answered whatever the ranking said
    (parse("faq", 1.0, (("materials_individual", 0.1),)), "materials_company", ANSWERED),
])
def test_classify_uses_the_action_and_the_ranking_rule(parsed, topic, kind):
    assert classify(parsed, topic, THRESHOLD) == kind


def test_the_threshold_is_the_one_given():
    # The calibrated confidence (bot.calibration) of this clear ranking is ≈ 0.99: above the
    # calibration's own bar, below a deployment's raised one.
    sure = parse("faq", 0.9, (("materials_individual", 0.99),))
    assert classify(sure, None, 0.5) == OTHER and classify(sure, None, 0.999) == CHOICES
    assert classify(parse("faq", 0.9, (("materials_individual", 0.55),)), None, 0.5) == CHOICES


def test_turns_answered_escalated_and_session_boundaries():
    events = [
        *answered("a", T0, "个人备案要什么材料", "materials_individual"),
        user("a", T0 + 10, "找人工", intent="request_human"), action("a", T0 + 10.1, "action_human_handoff"),
        *answered("b", T0, "个人备案要什么材料", "materials_individual", channel="socketio"),
        *answered("b", T0 + 5, "热线多少", "contact_hotline", channel="socketio"),
        # a new session carries the last topic over: that SlotSet answers nothing
        action("b", T0 + 99, "action_session_start"), slot("b", T0 + 99.1, "faq_topic", "contact_hotline"),
        user("b", T0 + 100, "讲个笑话", intent="out_of_scope", faq=(("contact_hotline", 0.02),), channel="socketio"),
        *answered("c", T0, "热线多少", "contact_hotline", channel="wechat"),
        user("c", T0 + 20, "好的，我要提工单", intent="create_ticket"), slot("c", T0 + 30, "ticket_no", "BA20261130-0001"),
    ]
    turns = turns_from_events(events, THRESHOLD)
    assert [(t.conversation, t.kind, t.topic, t.escalated) for t in turns] == [
        ("a", ANSWERED, "materials_individual", True), ("a", OTHER, None, True),
        ("b", ANSWERED, "materials_individual", False), ("b", ANSWERED, "contact_hotline", False),
        ("b", OUT_OF_SCOPE, None, False),
        ("c", ANSWERED, "contact_hotline", True), ("c", OTHER, None, True),
    ]
    assert turns[4].suggested == "contact_hotline" and turns[4].channel == "socketio"

    hot = hot_questions(turns, {"contact_hotline": "备案有问题打什么电话？"})
    assert [(r.topic, r.count, r.conversations, r.channels) for r in hot] == [
        ("contact_hotline", 2, 2, {"socketio": 1, "wechat": 1}),
        ("materials_individual", 2, 2, {"rest": 1, "socketio": 1})]
    assert hot[0].question == "备案有问题打什么电话？"

    quality = answer_quality(turns, [Vote("contact_hotline", True), Vote("contact_hotline", False),
                                      Vote("contact_hotline", True), Vote("change_info", False)])
    rows = {r.topic: r for r in quality}
    assert (rows["materials_individual"].conversations, rows["materials_individual"].escalated) == (2, 1)
    assert rows["materials_individual"].escalation_rate == 0.5
    assert (rows["contact_hotline"].helpful, rows["contact_hotline"].not_helpful) == (2, 1)
    assert rows["contact_hotline"].escalated == 1 and rows["contact_hotline"].helpful_rate == pytest.approx(2 / 3)
    assert (rows["change_info"].conversations, rows["change_info"].not_helpful, rows["change_info"].escalation_rate) == (0, 1, None)


def test_a_faq_topic_slot_without_the_faq_action_is_no_answer():
    events = [user("a", T0, "个人备案", faq=(("materials_individual", 0.2),)), slot("a", T0 + 1, "faq_topic", "x")]
    assert turns_from_events(events, THRESHOLD)[0].kind == CHOICES


def test_texts_are_masked_in_turns():
    events = [user("a", T0, "我手机１３８１２３４５６７８，邮箱 bob@example.com，订单ICP2026110400318", intent="out_of_scope")]
    text = turns_from_events(events, THRESHOLD)[0].text
    assert "13812345678" not in text and "bob@" not in text and "ICP2026110400318" not in text
    assert text == "我手机138****5678，邮箱 b***@example.com，订单ICP****18"


def test_daily_volume_counts_china_days_and_lists_empty_ones():
    # 2026-11-29 23:59:30 and 2026-11-30 00:00:30 China time: two days, though one UTC day
    early = 1_795_968_030.0
    late = early - 60
    from bot.reports.period import day_of
    assert (day_of(late), day_of(early)) == (date(2026, 11, 29), date(2026, 11, 30))
    events = [user("a", late, "x", channel="rest"), user("b", early, "y", channel="socketio"),
              user("c", early + 5, "z", channel="socketio")]
    rows = daily_volume(turns_from_events(events, THRESHOLD), Period(date(2026, 11, 28), date(2026, 11, 30)))
    assert [(r.day, r.total, r.channels) for r in rows] == [
        ("2026-11-28", 0, {}), ("2026-11-29", 1, {"rest": 1}), ("2026-11-30", 2, {"socketio": 2})]


def test_compute_says_whether_votes_were_available():
    period = Period(date(2026, 11, 30), date(2026, 11, 30))
    assert compute([], period, None).votes_available is False
    assert compute([], period, []).votes_available is True
    assert compute([], period, []).to_json()["daily"] == [{"day": "2026-11-30", "total": 0, "channels": {}}]
