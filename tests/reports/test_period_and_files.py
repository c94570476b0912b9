"""Periods in China time, masking of order numbers, the CSV files and the YAML for review."""
from datetime import date, datetime, timezone

import pytest
import yaml

from bot.faq.kb import load_group
from bot.reports.files import EXPORT_HEADER, export_yaml, one_line, write_csv
from bot.reports.missed import MissedGroup
from bot.reports.period import Period, day_of, period_from
from bot.reports.render import render
from bot.storage.privacy import mask_order, mask_text

TODAY = date(2026, 11, 30)


def test_default_period_is_the_last_seven_china_days():
    p = period_from(today=TODAY)
    assert (p.since, p.until) == (date(2026, 11, 24), TODAY) and len(list(p.days())) == 7
    assert period_from("2026-11-01", today=TODAY) == Period(date(2026, 11, 1), TODAY)
    assert period_from(until="2026-11-10", today=TODAY) == Period(date(2026, 11, 4), date(2026, 11, 10))


def test_period_bounds_are_china_midnights():
    p = Period(date(2026, 11, 30), date(2026, 11, 30))
    assert datetime.fromtimestamp(p.start_ts, timezone.utc) == datetime(2026, 11, 29, 16, tzinfo=timezone.utc)
    assert p.end_ts - p.start_ts == 86_400
    assert day_of(p.start_ts) == date(2026, 11, 30) and day_of(p.start_ts - 1) == date(2026, 11, 29)
    assert day_of(p.end_ts - 1) == date(2026, 11, 30)


@pytest.mark.parametrize("since, until", [("2026-11-30", "2026-11-01"), ("yesterday", None), ("2026-13-01", None)])
def test_bad_periods_are_refused(since, until):
    with pytest.raises(ValueError):
        period_from(since, until, today=TODAY)


def test_order_numbers_are_masked_only_when_asked():
    assert mask_order("ICP2026110400318") == "ICP****18" and mask_order("20261104-0031") == "202****31"
    assert mask_order("short") == "***"
    text = "订单 ICP2026110400318 和 20261104-0031，手机 13812345678"
    assert mask_text(text) == "订单 ICP2026110400318 和 20261104-0031，手机 138****5678"  # as before (logs)
    assert mask_text(text, orders=True) == "订单 ICP****18 和 202****31，手机 138****5678"
    assert mask_text("粤ICP备12345678号-1", orders=True) == "粤ICP备12345678号-1"  # public, and not an order


GROUPS = [MissedGroup(2, ("帮我推荐一部好看的电影", "帮我推荐一部好看的电影吧"), "progress_query_methods"),
          MissedGroup(1, ("多行\n文本  [看这里](链接)",), None),
          MissedGroup(1, (), "x")]


def test_export_is_faq_examples_with_a_suggested_topic(tmp_path):
    path = export_yaml(GROUPS, Period(date(2026, 11, 24), TODAY), tmp_path / "review.yml")
    text = path.read_text(encoding="utf-8")
    assert text.startswith(EXPORT_HEADER.format(period=Period(date(2026, 11, 24), TODAY)))
    assert all(line.startswith("#") for line in EXPORT_HEADER.strip().splitlines())
    entries = yaml.safe_load(text)
    assert entries == [
        {"topic": "progress_query_methods", "count": 2, "examples": ["帮我推荐一部好看的电影", "帮我推荐一部好看的电影吧"]},
        {"topic": None, "count": 1, "examples": ["多行 文本 [看这里] (链接)"]}]
    # pasted under a topic, the examples load through the knowledge base's own reader unchanged
    group = tmp_path / "review_group.yml"
    group.write_text(yaml.safe_dump({"group": "review", "topics": [
        {"id": e["topic"] or "unknown", "examples": e["examples"]} for e in entries]}, allow_unicode=True),
        encoding="utf-8")
    loaded = load_group(group)
    assert [list(t.examples) for t in loaded.topics] == [e["examples"] for e in entries]
    assert one_line("a](b") == "a] (b"


def test_csv_has_a_bom_and_round_trips(tmp_path):
    import csv

    path = write_csv((["topic", "问题", "n"], [["a", "个人备案，要什么", 3], ["b", 'quote " and, comma', 0]]),
                     tmp_path / "x.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as f:
        assert list(csv.reader(f)) == [["topic", "问题", "n"], ["a", "个人备案，要什么", "3"], ["b", 'quote " and, comma', "0"]]


def test_text_tables_align_chinese():
    out = render((["topic", "问题", "n"], [["a", "个人备案", 3], ["bb", "x", 12]]), "title").splitlines()
    assert out[0] == "title"
    assert out[3] == "a      个人备案   3" and out[4] == "bb     x         12"
    assert render((["a"], []), "").endswith("(nothing in this period)")
