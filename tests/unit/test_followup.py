import pytest

from bot.followup import Facet, detect, part_in, resolve


@pytest.mark.parametrize(
    "text, facet",
    [
        ("那公司呢?", Facet("subject", "company")),
        ("企业呢", Facet("subject", "company")),
        ("那个人的呢？", Facet("subject", "individual")),
        ("管局那边呢", Facet("stage", "bureau")),
        ("那初审呢", Facet("stage", "provider")),
        ("那湖南呢?", Facet("province", "湖南")),
        ("上海呢", Facet("province", "上海")),
        ("要是APP呢", Facet("platform", "app")),
        ("小程序也要吗", Facet("platform", "app")),
        ("小程序也要备案吗", Facet("platform", "app")),
        ("那个人也可以吗", Facet("subject", "individual")),
    ],
)
def test_detects_follow_ups(text, facet):
    assert facet in detect(text)


@pytest.mark.parametrize(
    "text",
    ["个人备案要准备什么材料", "管局审核要多久", "域名实名要多久", "公司备案需要法人到场吗还是可以委托别人来办理呢",
     "你好", "", "呢", "也要吗", "公安备案也要做吗 我们是做电商的 订单量很大"],
)
def test_standalone_messages_are_not_follow_ups(text):
    assert detect(text) == []


@pytest.mark.parametrize("text, part", [
    ("那要多久呢", "how_long"), ("这个要多久", "how_long"), ("大概几天能好", "how_long"), ("要钱吗", "cost"),
    ("这个收费吗", "cost"), ("入口在哪", "where"), ("在哪里点", "where"), ("找谁办", "who"),
    ("发到哪个邮箱", "send_to"), ("寄到哪", "send_to"),
])
def test_a_part_of_the_last_answer_is_a_follow_up(text, part):
    assert detect(text) == [Facet("part", part)]


def test_a_longer_message_asks_for_a_part_only_the_topic_has(kb):
    topic = next(t for t in kb.topics if "how_long" in t.parts and "where" not in t.parts)
    assert part_in("app这个审核大概多久", topic) == "how_long"
    assert part_in("入口在APP哪里", topic) is None
    assert part_in("随便问问", topic) is None


@pytest.mark.parametrize(
    "last, text, expected",
    [
        ("materials_individual", "那公司呢?", "materials_company"),
        ("materials_company", "那个人呢", "materials_individual"),
        ("first_review_duration", "管局那边呢", "bureau_review_duration"),
        ("bureau_review_duration", "那初审呢", "first_review_duration"),
        ("regional_east_china", "那湖南呢?", "regional_central_china"),
        ("regional_north_china", "上海呢", "regional_east_china"),
        ("regional_south_china", "新疆呢", "regional_northwest"),
        ("need_filing_or_not", "小程序也要吗", "app_filing_needed"),
    ],
)
def test_resolves_against_the_last_topic(kb, last, text, expected):
    topic = resolve(kb, last, detect(text))
    assert topic is not None and topic.id == expected


def test_without_a_last_topic_nothing_resolves(kb):
    assert resolve(kb, None, detect("那公司呢")) is None


def test_province_without_regional_topic_does_not_resolve(kb):
    assert resolve(kb, "regional_east_china", detect("那辽宁呢")) is None


def test_whether_weekends_count_asks_how_long(kb):
    assert part_in("周末算在里面吗", kb.get("bureau_review_duration")) == "how_long"


def test_a_provider_elsewhere_asks_that_part(kb):
    topic = kb.get("dns_pause_first_filing")
    assert part_in("不过我们DNS托管在cloudflare 不在你们这", topic) == "elsewhere"
    assert "Cloudflare" in topic.parts["elsewhere"]


def test_weekends_in_english_ask_how_long(kb):
    assert part_in("do weekends count?", kb.get("bureau_review_duration")) == "how_long"
