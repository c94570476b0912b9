from bot.nlu.cues import cue_intent


def test_complaint_words_decide_whatever_the_guess():
    assert cue_intent("投诉!你们初审驳回理由写得乱七八糟,根本看不懂让我改什么", "faq") == "complain"
    assert cue_intent("什么垃圾系统 上传个身份证照片传了一下午都失败", "faq") == "complain"


def test_small_talk_words_only_in_short_non_task_messages():
    assert cue_intent("收到,多谢提醒", "faq") == "thanks"
    assert cue_intent("好的 谢谢 再见", "thanks") == "goodbye"
    assert cue_intent("谢谢 帮我看看我订单", "ask_order_status") is None
    assert cue_intent("谢谢你们的客服昨天帮我解决了域名实名的问题现在想问一下公安备案", "faq") is None


def test_urging_in_short_questions_only():
    assert cue_intent("能加急不,明天就要用", "nlu_fallback") == "urge"
    assert cue_intent("老板催网站上线,备案明明通过了可网页一直提示未备案被阻断", "faq") is None
    assert cue_intent("个人备案要准备什么材料", "faq") is None


def test_a_verdict_is_a_statement_not_a_question():
    assert cue_intent("嗯嗯 这个回答有帮助", "nlu_fallback") == "feedback_helpful"
    assert cue_intent("没啥用", "faq") == "feedback_unhelpful"
    assert cue_intent("公安备案有用吗", "faq") is None


def test_a_number_to_look_up_makes_small_talk_a_lookup():
    assert cue_intent("再查一个 20261020-2271", "goodbye", ["order_id"]) == "ask_order_status"
    assert cue_intent("尾号 7 8 7 8", "faq", ["phone_tail"]) == "ask_order_status"
    assert cue_intent("转人工 我的单号 20261020-2271", "request_human", ["order_id"]) is None


def test_requests_are_tasks_and_how_to_questions_stay_faq():
    assert cue_intent("那行吧,我留个工单", "faq") == "create_ticket"
    assert cue_intent("麻烦查一下备案订单", "faq") == "ask_order_status"
    assert cue_intent("工单怎么提交", "faq") is None
    assert cue_intent("在哪查备案进度", "faq") is None
    assert cue_intent("帮我看看备案进度在哪里看", "faq") is None
