"""Reports computed from a tracker store filled by real conversations with the real assistant
(REST and socket.io), on SQLite as the server wrote it and on PostgreSQL after copying the same
events through Rasa's own SQLTrackerStore API. The counts follow from `report_servers.CONVERSATIONS`."""
from __future__ import annotations

import asyncio
import csv
from datetime import timedelta

import pytest
import yaml

from bot.reports.build import build
from bot.reports.period import Period, china_today
from report_servers import PHONE

pytestmark = pytest.mark.e2e


def period() -> Period:
    today = china_today()  # a run across midnight stays inside the period
    return Period(today - timedelta(days=1), today + timedelta(days=1))


def check_counts(reports) -> None:
    assert reports.turns == 12
    assert [(r.topic, r.count, r.conversations, r.channels) for r in reports.hot] == [
        ("materials_individual", 3, 3, {"rest": 3}), ("contact_hotline", 2, 2, {"socketio": 2})]
    assert reports.hot[0].question  # from faq/

    assert [(g.count, g.kinds) for g in reports.missed] == [
        (2, {"out_of_scope": 2}), (1, {"out_of_scope": 1}), (1, {"out_of_scope": 1}), (1, {"fallback": 1}),
        (1, {"choices": 1})]
    assert reports.missed[0].examples == ("帮我推荐一部好看的电影", "帮我推荐一部好看的电影吧")
    assert reports.missed[1].examples == ("我手机138****5678，能帮我订外卖吗",)
    assert [g.examples for g in reports.missed[2:]] == [("asdfghjkl qwer",), ("哦",), ("域名",)]
    assert all(g.suggested for g in reports.missed)  # every turn had an FAQ ranking
    assert PHONE not in repr(reports)

    quality = {r.topic: (r.conversations, r.escalated) for r in reports.quality}
    assert quality == {"materials_individual": (3, 1), "contact_hotline": (2, 0)}

    assert sum(d.total for d in reports.daily) == 12
    assert sum(d.channels.get("rest", 0) for d in reports.daily) == 10
    assert sum(d.channels.get("socketio", 0) for d in reports.daily) == 2


def test_reports_from_real_conversations_on_sqlite(conversations):
    check_counts(build(period(), tracker_url=conversations.tracker_url, database_url=conversations.database_url))


async def _copy(source_url: str, target_url: str) -> int:
    """Every conversation of one SQL tracker store saved into another, with Rasa's own API."""
    from rasa.core.tracker_store import SQLTrackerStore

    source, target = SQLTrackerStore(host=source_url), SQLTrackerStore(host=target_url)
    try:
        senders = list(await source.keys())
        for sender in senders:
            await target.save(await source.retrieve_full_tracker(sender))
        return len(senders)
    finally:
        source.engine.dispose()
        target.engine.dispose()


def test_the_same_reports_on_postgresql(conversations, pg_databases):
    target = pg_databases().render_as_string(hide_password=False)
    assert asyncio.run(_copy(conversations.tracker_url, target)) == 11
    on_pg = build(period(), tracker_url=target, database_url=conversations.database_url)
    check_counts(on_pg)
    on_sqlite = build(period(), tracker_url=conversations.tracker_url, database_url=conversations.database_url)
    assert on_pg.to_json() == on_sqlite.to_json()


def test_the_cli_writes_tables_charts_and_the_review_file(conversations, monkeypatch, tmp_path, capsys):
    from bot.cli import main

    monkeypatch.setenv("TRACKER_STORE_URL", conversations.tracker_url)
    monkeypatch.setenv("DATABASE_URL", conversations.database_url)
    p = period()
    review = tmp_path / "review.yml"
    assert main(["report", "all", "--since", p.since.isoformat(), "--until", p.until.isoformat(),
                 "--out", str(tmp_path), "--export-yaml", str(review)]) == 0
    out = capsys.readouterr().out
    assert "12 user turns" in out and "materials_individual" in out and PHONE not in out
    for name in ("hot", "missed", "quality", "daily"):
        raw = (tmp_path / f"{name}.csv").read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), name  # UTF-8 BOM: Excel reads the Chinese right
    with (tmp_path / "missed.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["count"]) for r in rows] == [2, 1, 1, 1, 1]
    assert PHONE not in (tmp_path / "missed.csv").read_text(encoding="utf-8-sig")
    for chart in ("hot.png", "daily.png"):
        assert (tmp_path / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    entries = yaml.safe_load(review.read_text(encoding="utf-8"))
    assert [len(e["examples"]) for e in entries] == [2, 1, 1, 1, 1]
    assert "python -m bot faq check" in review.read_text(encoding="utf-8")


def test_the_page_and_its_data_need_an_agent_token(conversations):
    import requests

    from report_servers import TOKEN

    base = f"{conversations.base}/webhooks/reports"
    page = requests.get(f"{base}/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"] and TOKEN not in page.text
    assert requests.get(f"{base}/static/reports.js", timeout=10).status_code == 200
    assert requests.get(f"{base}/static/index.html.bak", timeout=10).status_code == 404

    p = period()
    query = {"since": p.since.isoformat(), "until": p.until.isoformat()}
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN},
                    {"Authorization": f"Basic {TOKEN}"}):
        r = requests.get(f"{base}/data", params=query, headers=headers, timeout=10)
        assert r.status_code == 401 and "turns" not in r.text
    ok = requests.get(f"{base}/data", params=query, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert ok.status_code == 200, ok.text
    data = ok.json()
    assert data["turns"] == 12 and [g["count"] for g in data["missed"]] == [2, 1, 1, 1, 1]
    assert {"hot", "missed", "quality", "daily"} <= set(data) and PHONE not in ok.text
    for bad in ({"since": "yesterday"}, {"since": "2026-11-30", "until": "2026-11-01"},
                {"since": "2020-01-01", "until": "2026-11-30"}):
        r = requests.get(f"{base}/data", params=bad, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert r.status_code == 400, (bad, r.text)
