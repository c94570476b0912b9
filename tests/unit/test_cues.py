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


def test_everyday_complaints_without_the_word_complaint():
    assert cue_intent("电话打了三次都没人接 这叫什么服务", "faq") == "complain"
    assert cue_intent("材料传了五遍还让我传，有完没完", "realname_check_failed") == "complain"
    assert cue_intent("算了不投诉了 帮我看看进度", "faq") != "complain"


def test_verdicts_settle_which_verdict():
    assert cue_intent("嗯嗯 这个回答有帮助", "feedback_unhelpful") == "feedback_helpful"
    assert cue_intent("照着做 上传成功了", "faq") == "feedback_helpful"
    assert cue_intent("看完还是不懂", "faq") == "feedback_unhelpful"
    assert cue_intent("我不懂了", "faq") != "feedback_helpful"
    assert cue_intent("提交成功了 然后呢", "faq") is None


def test_the_state_of_my_own_filing_is_a_lookup():
    assert cue_intent("我们的变更备案现在到哪一步了", "faq") == "ask_order_status"
    assert cue_intent("管局审核过了没", "faq") == "ask_order_status"
    assert cue_intent("管局审核过了怎么查", "faq") is None
    assert cue_intent("初审要多久", "faq") is None


def test_leaving_a_message_is_a_ticket():
    assert cue_intent("留个言吧 让你们的人明天联系我", "faq") == "create_ticket"
    assert cue_intent("怎么留言", "faq") is None


def test_asking_to_go_first_is_urging():
    assert cue_intent("这个单子能优先处理一下不", "faq") == "urge"


def test_a_negated_verdict_is_unhelpful():
    assert cue_intent("太官方了，没有用", "feedback_helpful") == "feedback_unhelpful"
    assert cue_intent("问题已解决", "faq") == "feedback_helpful"


def test_a_plain_question_the_faq_is_sure_of_is_not_a_complaint():
    assert cue_intent("你们备案客服电话多少", "complain", faq_top=0.97) == "faq"
    assert cue_intent("你们备案客服电话多少", "complain", faq_top=0.4) is None
    assert cue_intent("你们客服电话打了三次都没人接 什么服务", "complain", faq_top=0.97) == "complain"


def test_thanks_with_a_wish_is_thanks():
    assert cue_intent("谢谢 希望你们尽快处理", "urge") == "thanks"
    assert cue_intent("能不能尽快处理", "faq") == "urge"


def test_annoyance_with_a_request_is_the_request():
    assert cue_intent("热线等了二十分钟没人接，帮我提个工单", "create_ticket") is None
    assert cue_intent("热线等了二十分钟没人接，帮我提个工单", "faq") == "create_ticket"
    assert cue_intent("打了三次电话都没人接", "faq") == "complain"


def test_understood_with_thanks_is_thanks_and_questions_are_not_verdicts():
    assert cue_intent("明白了，谢啦", "feedback_helpful") == "thanks"
    assert cue_intent("懂了", "faq") == "feedback_helpful"
    assert cue_intent("备案成功了有没有证书可以下载", "faq") is None
    assert cue_intent("收不收费啊 我们老年人怕上当受骗", "faq") is None


def test_how_to_check_progress_is_the_faq_not_a_lookup():
    assert cue_intent("备案进度怎么查询", "ask_order_status", faq_top=0.8) == "faq"
    assert cue_intent("备案进度怎么查询", "ask_order_status", faq_top=0.2) is None
    assert cue_intent("帮我查一下我的备案进度 怎么还没好", "ask_order_status", faq_top=0.8) is None
    assert cue_intent("ICP2026111600733 怎么查", "ask_order_status", ["order_id"], faq_top=0.8) is None


def test_a_question_is_not_a_verdict_whatever_the_classifier_says():
    assert cue_intent("这个地址不一致是啥意思，我要怎么处理", "feedback_unhelpful", faq_top=0.7) == "faq"
    assert cue_intent("你说的我看不懂", "feedback_unhelpful", faq_top=0.7) == "feedback_unhelpful"
