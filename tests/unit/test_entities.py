import pytest

from bot.nlu.entities import extract
from bot.nlu.normalize import normalize


def values(text, label):
    return [e["value"] for e in extract(normalize(text)) if e["entity"] == label]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("帮我查下订单ICP2026110400318", ["ICP2026110400318"]),
        ("订单号 icp2026110400318 手机尾号5678", ["ICP2026110400318"]),
        ("老订单20261104-2271到哪了", ["20261104-2271"]),
        ("ＩＣＰ２０２６１１０４００３１８", ["ICP2026110400318"]),
    ],
)
def test_order_id(text, expected):
    assert values(text, "order_id") == expected


@pytest.mark.parametrize(
    "text",
    ["ICP2026133000318", "ICP20261104003", "2026110-2271", "20261104-22711", "订单号是12345", "ICP备12345678号"],
)
def test_not_an_order_id(text):
    assert values(text, "order_id") == []


def test_icp_number_and_its_province():
    found = extract(normalize("我们的备案号是粤ICP备12345678号-1"))
    assert [e["value"] for e in found if e["entity"] == "icp_number"] == ["粤ICP备12345678号-1"]
    assert [e["value"] for e in found if e["entity"] == "province"] == ["广东"]
    assert values("京icp备 20250001号", "icp_number") == ["京ICP备20250001号"]


@pytest.mark.parametrize("text", ["ICP备12345678号", "粤ICP备1234号", "粤ICP证123456号"])
def test_not_an_icp_number(text):
    assert values(text, "icp_number") == []


@pytest.mark.parametrize(
    "text, expected",
    [("我手机13812345678", ["13812345678"]), ("电话 138-1234-5678", ["13812345678"]),
     ("+86 13912345678", ["13912345678"])],
)
def test_phone(text, expected):
    assert values(text, "phone") == expected


@pytest.mark.parametrize("text", ["12812345678", "1381234567", "尾号5678", "订单20261104-2271"])
def test_not_a_phone(text):
    assert values(text, "phone") == []


@pytest.mark.parametrize(
    "text, expected",
    [("网站www.example.com打不开", ["www.example.com"]), ("https://Shop.Example.com.cn", ["shop.example.com.cn"]),
     ("域名huawei.中国能备案吗", ["huawei.中国"])],
)
def test_domain(text, expected):
    assert values(text, "domain") == expected


@pytest.mark.parametrize("text", ["版本3.5", "照片a.jpg", "邮箱 me@example.com"])
def test_not_a_domain(text):
    assert values(text, "domain") == []


@pytest.mark.parametrize(
    "text, expected",
    [("湖南省个人备案", ["湖南"]), ("内蒙的要求", ["内蒙古"]), ("广西壮族自治区", ["广西"]),
     ("苏管局要求", ["江苏"]), ("那上海呢", ["上海"]), ("黑龙江和新疆", ["黑龙江", "新疆"])],
)
def test_province(text, expected):
    assert values(text, "province") == expected


@pytest.mark.parametrize("text", ["华为云服务器", "新网站怎么备案", "贵公司", "青年", "宁可"])
def test_abbreviations_alone_are_not_provinces(text):
    assert values(text, "province") == []


def test_all_31_provinces_are_known():
    from bot.nlu.patterns import PROVINCES

    assert len(PROVINCES) == 31
    for name, forms, _ in PROVINCES:
        assert values(f"{forms[0]}的备案", "province") == [name]


def test_empty_and_huge_inputs():
    assert extract("") == []
    assert isinstance(extract(normalize("备案" * 50_000)), list)


def test_ten_digit_icp_numbers_and_gansu_prefix():
    assert values("京ICP备2023001234号", "icp_number") == ["京ICP备2023001234号"]
    assert values("陇ICP备12345678号-2", "province") == ["甘肃"]
