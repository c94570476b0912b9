from datetime import date

from actions.complaint import what_happened
from actions.urge import urge_reply
from bot.clock import china_now, parse_clock, working_days_between


def test_bureau_review_cannot_be_hurried_until_it_is_overdue():
    text, ticket = urge_reply("bureau_review", 8, "HOT")
    assert "没法加急" in text and "20个工作日" in text and not ticket
    text, ticket = urge_reply("bureau_review", 23, "HOT")
    assert "超过" in text and "HOT" in text and ticket


def test_first_review_past_two_working_days_gets_a_ticket():
    assert urge_reply("provider_review", 1, "HOT")[1] is False
    assert urge_reply("provider_review", 3, "HOT")[1] is True


def test_other_statuses_say_who_acts():
    assert "短信核验" in urge_reply("sms_verification", 1, "HOT")[0]
    assert "重新提交" in urge_reply("bureau_rejected", 1, "HOT")[0]
    assert "已经通过" in urge_reply("approved", None, "HOT")[0]


def test_working_days_skip_weekends():
    assert working_days_between(date(2026, 11, 27), date(2026, 11, 30)) == 1  # Fri → Mon
    assert working_days_between(date(2026, 11, 16), date(2026, 12, 2)) == 12


def test_the_test_clock_is_honoured_only_when_allowed(monkeypatch):
    from bot.config import get_settings

    assert parse_clock("2026-12-02 23:30").hour == 23 and parse_clock("nonsense") is None
    monkeypatch.delenv("TEST_CLOCK", raising=False)
    get_settings.cache_clear()
    assert china_now({"clock": "2001-01-01 03:00"}).year != 2001
    monkeypatch.setenv("TEST_CLOCK", "1")
    get_settings.cache_clear()
    assert china_now({"clock": "2001-01-01 03:00"}).year == 2001
    get_settings.cache_clear()


def test_a_complaint_that_says_what_happened_is_its_own_description():
    assert what_happened("你们审核太慢了，交上去一个礼拜了都没人理，什么破服务")
    assert what_happened("我要投诉！") == "" and what_happened("投诉你们 太差了") == ""
