"""The reports page in a real browser (headless Debian Chromium through Playwright): the token is
asked for, a wrong one is refused and asked for again, the right one shows the daily chart (SVG) and
the missed questions, with phone numbers masked."""
from __future__ import annotations

import re

import pytest

from bot.config import ROOT
from report_servers import PHONE, TOKEN

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
SHOT = ROOT / "artifacts" / "browser" / "reports.png"


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 1400}, locale="zh-CN")
            yield context.new_page()
        finally:
            browser.close()


def test_the_page_asks_for_the_token_and_shows_the_reports(conversations, page):
    errors: list = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests_seen: list = []
    page.on("request", lambda r: requests_seen.append(r.url))
    page.goto(f"{conversations.base}/webhooks/reports/")

    login = page.locator("#login")
    login.wait_for(state="visible")
    assert page.locator("#reports").is_hidden()

    page.fill("#token", "wrong-token-0123456789")
    page.click("#login button[type=submit]")
    page.locator("#login-error").filter(has_text="令牌无效").wait_for()
    assert login.is_visible() and page.locator("#reports").is_hidden()
    assert page.evaluate("sessionStorage.length") == 0  # a refused token is not kept

    page.fill("#token", TOKEN)
    page.click("#login button[type=submit]")
    page.locator("#reports").wait_for(state="visible")
    assert login.is_hidden()

    bars = page.locator("#daily-chart svg rect[data-channel]")
    assert bars.count() >= 2  # today's rest and socketio parts
    assert set(bars.evaluate_all("els => els.map(e => e.getAttribute('data-channel'))")) == {"rest", "socketio"}
    assert "12 条用户消息" in page.locator("#summary").inner_text()

    rows = page.locator("#missed tbody tr")
    assert rows.count() == 5
    assert rows.nth(0).locator("td").nth(0).inner_text() == "2"
    assert "帮我推荐一部好看的电影" in rows.nth(0).inner_text()
    body = page.locator("body").inner_text()
    assert "138****5678" in body and PHONE not in body
    assert PHONE not in page.content()
    assert page.locator("#hot tbody tr").count() == 2

    SHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOT), full_page=True)
    assert not errors, errors
    assert all(re.match(re.escape(conversations.base), url) for url in requests_seen)  # no CDN, nothing outside
    assert TOKEN not in page.content()  # the token is only in sessionStorage and the request header
