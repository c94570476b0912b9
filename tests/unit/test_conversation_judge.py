"""The evaluator's judge: each check can fail, and a clean turn passes."""
from bot.conversations import judge


def tracker(actions=(), slots=None, intent="faq", form=None):
    events = [{"event": "user", "text": "x"}] + [{"event": "action", "name": a} for a in actions]
    return {"events": events, "slots": slots or {}, "latest_message": {"intent": {"name": intent}},
            "active_loop": {"name": form} if form else {}}


def reply(*texts, buttons=()):
    return [{"text": t} for t in texts] + ([{"text": "", "buttons": [{"title": b} for b in buttons]}] if buttons else [])


def test_a_clean_turn_passes_every_stated_check():
    expect = {"intent": "create_ticket", "actions": ["ticket_form"], "form": "ticket_form",
              "slots": {"ticket_contact": None}, "says": ["描述"], "says_any": ["x", "问题"], "not_says": ["您是想了解"]}
    t = tracker(["ticket_form", "action_ask_ticket_description"], intent="create_ticket", form="ticket_form")
    assert judge(expect, reply("请描述一下您遇到的问题"), t) == []


def test_each_stated_check_fails_on_its_own():
    t = tracker(["action_answer_faq"], slots={"faq_topic": "a"}, intent="faq")
    r = reply("答案")
    assert judge({"intent": "greet"}, r, t)
    assert judge({"actions": ["ticket_form"]}, r, t)
    assert judge({"not_actions": ["action_answer_faq"]}, r, t)
    assert judge({"topic": "b"}, r, t)
    assert judge({"form": "ticket_form"}, r, t)
    assert judge({"slots": {"faq_topic": None}}, r, t)
    assert judge({"says": ["别的"]}, r, t)
    assert judge({"says_any": ["甲", "乙"]}, r, t)
    assert judge({"not_says": ["答案"]}, r, t)


def test_what_every_turn_owes_the_user():
    t = tracker(["action_answer_faq"])
    assert "no reply" in judge({}, [], t)
    assert any("placeholder" in f for f in judge({}, reply("关于 {ticket_topic}"), t))
    assert any("internal label" in f for f in judge({}, reply("请描述（关于：备案咨询）"), t))
    assert any("你" in f for f in judge({}, reply("你可以去控制台"), t))
    assert judge({}, reply("你好！您可以去控制台"), t) == []
    two = tracker(["action_ask_order_id", "action_ask_phone_tail"])
    assert any("prompts" in f for f in judge({}, reply("a", "b"), two))
    menu = tracker(["action_answer_faq", "action_ask_ticket_contact"])
    assert any("menu" in f for f in judge({}, reply("您是想了解：", "请留联系方式"), menu))


def test_button_titles_count_for_says_but_only_text_for_not_says():
    t = tracker(["action_human_handoff"])
    r = reply("热线 4000", buttons=["提交工单"])
    assert judge({"says": ["提交工单"]}, r, t) == []
    assert judge({"not_says": ["提交工单"]}, r, t) == []


def test_the_users_own_words_quoted_back_are_not_the_bots_register():
    t = tracker(["action_ask_ticket_confirmed"])
    t["events"][0] = {"event": "user", "text": "你们审核太慢了"}
    assert judge({}, reply("请确认：\n- 问题描述：你们审核太慢了"), t) == []


def test_a_fallback_stacked_on_an_answer_fails():
    t = tracker(["action_order_status", "action_default_fallback"])
    assert any("fallback stacked" in f for f in judge({}, reply("订单…", "抱歉，我没太明白"), t))
    assert judge({}, reply("抱歉，我没太明白"), tracker(["action_default_fallback"])) == []
