import json

from rasa_sdk.executor import CollectingDispatcher

from actions.faq import ActionAnswerFaq
from tests.actions.helpers import run_action


def run(tracker):
    dispatcher = CollectingDispatcher()
    events = run_action(ActionAnswerFaq(), dispatcher, tracker, {})
    return dispatcher.messages, events


def slot(events, name="faq_topic"):
    return next((e["value"] for e in events if e.get("event") == "slot" and e["name"] == name), None)


def payload_topics(message):
    topics = []
    for b in message["buttons"]:
        if b["payload"].startswith("/faq{"):
            topics.append(json.loads(b["payload"][4:])["faq_topic"])
    return topics


def test_confident_question_gets_its_answer_and_related_buttons(tracker_for, kb):
    messages, events = run(tracker_for("个人备案要什么材料", ranking=[("materials_individual", 0.9)]))
    assert messages[0]["response"] == "utter_faq/materials_individual"
    assert payload_topics(messages[0]) == list(kb.get("materials_individual").related)
    assert slot(events) == "materials_individual"


def test_unsure_question_gets_top_three_choices_and_a_human(tracker_for, kb):
    ranking = [("first_review_duration", 0.3), ("bureau_review_duration", 0.25), ("filing_process_overview", 0.2),
               ("sms_verification", 0.1)]
    messages, events = run(tracker_for("要多久", ranking=ranking))
    assert "不太确定" in messages[0]["text"]
    assert payload_topics(messages[0]) == ["first_review_duration", "bureau_review_duration", "filing_process_overview"]
    assert messages[0]["buttons"][-1]["payload"] == "/request_human"
    assert [b["title"] for b in messages[0]["buttons"][:1]] == [kb.get("first_review_duration").question]
    assert slot(events) is None


def test_fallback_intent_offers_choices(tracker_for):
    messages, _ = run(tracker_for("嗯那个", intent="nlu_fallback", ranking=[("contact_hotline", 0.9)]))
    assert payload_topics(messages[0]) == ["contact_hotline"]


def test_clicked_suggestion_answers_that_topic(tracker_for):
    entities = [{"entity": "faq_topic", "value": "bureau_review_duration"}]
    messages, events = run(tracker_for('/faq{"faq_topic":"bureau_review_duration"}', entities=entities))
    assert messages[0]["response"] == "utter_faq/bureau_review_duration"
    assert slot(events) == "bureau_review_duration"


def test_follow_up_uses_the_last_topic(tracker_for):
    tracker = tracker_for("那公司呢?", ranking=[("filing_free", 0.2)], slots={"faq_topic": "materials_individual"})
    messages, events = run(tracker)
    assert messages[0]["response"] == "utter_faq/materials_company"
    assert slot(events) == "materials_company"


def test_stage_follow_up(tracker_for):
    tracker = tracker_for("管局那边呢", ranking=[("filing_free", 0.2)], slots={"faq_topic": "first_review_duration"})
    assert run(tracker)[0][0]["response"] == "utter_faq/bureau_review_duration"


def test_a_province_follow_up_answers_that_province_only(tracker_for):
    tracker = tracker_for("那广西呢", ranking=[("filing_free", 0.2)], slots={"faq_topic": "regional_east_china"})
    messages, events = run(tracker)
    assert len(messages) == 1 and "广西" in messages[0]["text"]
    assert not any(p in messages[0]["text"] for p in ("广东", "海南", "江苏", "上海"))
    assert {"event": "slot", "timestamp": None, "name": "province", "value": "广西"} in events
    assert slot(events) == "regional_south_china"


def test_a_direct_question_about_one_province_gets_that_province_not_the_block(tracker_for):
    tracker = tracker_for("广西管局有什么特殊要求", ranking=[("regional_south_china", 0.95)],
                          entities=[{"entity": "province", "value": "广西"}])
    messages, _ = run(tracker)
    assert "广西" in messages[0]["text"] and "广东" not in messages[0]["text"]


def test_province_without_a_record_is_answered_honestly(tracker_for, tmp_path, monkeypatch):
    from actions.faq import knowledge_base, province_rules
    from bot.config import ROOT, get_settings

    import shutil
    shutil.copytree(ROOT / "faq", tmp_path / "faq", ignore=shutil.ignore_patterns("provinces"))
    monkeypatch.setenv("FAQ_DIR", str(tmp_path / "faq"))
    for cached in (get_settings, knowledge_base, province_rules):
        cached.cache_clear()
    try:
        tracker = tracker_for("那辽宁呢", ranking=[("filing_free", 0.2)], slots={"faq_topic": "regional_east_china"})
        messages, events = run(tracker)
    finally:
        monkeypatch.undo()
        for cached in (get_settings, knowledge_base, province_rules):
            cached.cache_clear()
    assert "辽宁" in messages[0]["text"] and "以属地管局最新要求为准" in messages[0]["text"]
    assert slot(events) is None


def test_unknown_clicked_topic_falls_back_to_choices(tracker_for):
    entities = [{"entity": "faq_topic", "value": "no_such_topic"}]
    messages, _ = run(tracker_for("/faq", entities=entities, ranking=[]))
    assert messages[0]["buttons"] == [{"title": "都不是，找人工", "payload": "/request_human"}]


def test_a_region_asks_which_province_with_a_button_each(tracker_for):
    tracker = tracker_for("华东那几个省的管局有啥规定", ranking=[("regional_east_china", 0.3), ("filing_free", 0.2)])
    messages, events = run(tracker)
    assert len(messages) == 1 and messages[0]["response"] == "utter_faq/regional_east_china"
    assert [b["payload"] for b in messages[0]["buttons"]] == ["上海", "江苏", "浙江", "安徽", "福建", "山东", "江西"]
    assert slot(events) == "regional_east_china"


def test_a_bare_province_gets_that_province(tracker_for):
    tracker = tracker_for("江苏", ranking=[("footer_copyright_jiangsu", 0.6)],
                          entities=[{"entity": "province", "value": "江苏"}], slots={"faq_topic": "regional_east_china"})
    messages, _ = run(tracker)
    assert len(messages) == 1 and messages[0]["text"].startswith("江苏") and "上海" not in messages[0]["text"]


def test_a_short_english_follow_up_out_of_scope_gets_the_part(tracker_for):
    from actions.faq import ActionOutOfScope

    tracker = tracker_for("do weekends count?", intent="out_of_scope", slots={"faq_topic": "bureau_review_duration"})
    dispatcher = CollectingDispatcher()
    run_action(ActionOutOfScope(), dispatcher, tracker, {})
    assert "节假日" in dispatcher.messages[0]["text"]


def test_a_follow_up_taken_for_a_complaint_answers_the_part(tracker_for):
    from actions.complaint import ActionComplaint

    tracker = tracker_for("不过我们DNS托管在cloudflare 不在你们这", intent="complain",
                          slots={"faq_topic": "dns_pause_first_filing"})
    dispatcher = CollectingDispatcher()
    run_action(ActionComplaint(), dispatcher, tracker, {})
    assert "Cloudflare" in dispatcher.messages[0]["text"] and "抱歉" not in dispatcher.messages[0]["text"]
    angry = tracker_for("什么破服务 DNS在cloudflare 不在你们这", intent="complain",
                        slots={"faq_topic": "dns_pause_first_filing"})
    dispatcher = CollectingDispatcher()
    run_action(ActionComplaint(), dispatcher, angry, {})
    assert "抱歉" in dispatcher.messages[0]["text"]
