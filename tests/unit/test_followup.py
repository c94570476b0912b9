import pytest

from bot.followup import Facet, detect, resolve


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
    ],
)
def test_detects_follow_ups(text, facet):
    assert facet in detect(text)


@pytest.mark.parametrize(
    "text",
    ["个人备案要准备什么材料", "那要多久呢", "公司备案需要法人到场吗还是可以委托别人来办理呢", "你好", "", "呢"],
)
def test_standalone_messages_are_not_follow_ups(text):
    assert detect(text) == []


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
    ],
)
def test_resolves_against_the_last_topic(kb, last, text, expected):
    topic = resolve(kb, last, detect(text))
    assert topic is not None and topic.id == expected


def test_without_a_last_topic_nothing_resolves(kb):
    assert resolve(kb, None, detect("那公司呢")) is None


def test_province_without_regional_topic_does_not_resolve(kb):
    assert resolve(kb, "regional_east_china", detect("那辽宁呢")) is None
