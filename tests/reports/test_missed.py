"""Grouping of missed questions: leader clustering on the FAQ checker's bigram Jaccard."""
from bot.faq.checker import canonical
from bot.reports.missed import SIMILAR, group_texts, missed_questions
from bot.reports.turns import turns_from_events
from events_factory import user

T0 = 1_796_000_000.0


def test_near_identical_texts_group_unrelated_ones_do_not():
    texts = ["今天天气怎么样", "今天天气怎么样啊", "明天北京会下雨吗", "讲个笑话", "给我讲个笑话吧"]
    assert group_texts([canonical(t) for t in texts]) == [[0, 1], [2], [3], [4]]
    # with a lower threshold the two jokes (Jaccard 2/6) join: the threshold is what decides
    assert group_texts([canonical(t) for t in texts], threshold=0.3) == [[0, 1], [2], [3, 4]]


def test_leaders_do_not_chain():
    # b is like a and like c, but c is not like a: c leads its own group (no "a bit like the last one")
    a, b, c = "abcdefghij", "abcdefghijklmn", "abcdefghijklmnopqrs"  # 9, 13, 18 bigrams
    # Jaccard a~b 9/13 = 0.69, b~c 13/18 = 0.72, a~c 9/18 = 0.5
    assert group_texts([a, b, c], threshold=0.65) == [[0, 1], [2]]


def test_missed_rows_count_examples_and_suggest_the_commonest_top_topic():
    events = [
        user("1", T0, "今天天气怎么样", intent="out_of_scope", faq=(("x", 0.1),)),
        user("2", T0 + 1, "今天天气怎么样？", intent="out_of_scope", faq=(("y", 0.1),)),  # same text once canonical
        user("3", T0 + 2, "今天天气怎么样啊", intent="out_of_scope", faq=(("y", 0.1),), channel="wechat"),
        user("4", T0 + 3, "今天天气怎么样", intent="out_of_scope", faq=(("x", 0.1),)),
        user("5", T0 + 4, "今天天气怎么样", intent="out_of_scope", faq=(("y", 0.1),)),
        user("6", T0 + 5, "备案", faq=(("contact_hotline", 0.2), ("filing_free", 0.1))),  # choices
        user("7", T0 + 6, "哦", intent="nlu_fallback", confidence=0.4),  # no ranking at all
        user("8", T0 + 7, "你好", intent="greet"),  # not missed
        user("9", T0 + 8, "联系我 13912345678 或 ICP2026110400318", intent="out_of_scope"),
    ]
    groups = missed_questions(turns_from_events(events, 0.5), {"contact_hotline": "备案有问题打什么电话？"})
    assert [(g.count, g.kinds, g.suggested) for g in groups] == [
        (5, {"out_of_scope": 5}, "y"), (1, {"choices": 1}, "contact_hotline"), (1, {"fallback": 1}, None),
        (1, {"out_of_scope": 1}, None)]
    assert groups[0].examples == ("今天天气怎么样", "今天天气怎么样？", "今天天气怎么样啊")  # most frequent first
    assert groups[0].channels == {"rest": 4, "wechat": 1} and groups[0].conversations == 5
    assert groups[1].question == "备案有问题打什么电话？"
    assert groups[3].examples == ("联系我 139****5678 或 ICP****18",)


def test_the_default_threshold_is_explained_by_numbers():
    assert 0.5 < SIMILAR < 0.86  # "今天天气怎么样" vs "…啊" is 6/7 = 0.86: grouped; unrelated < 0.3
