"""The agents' copilot page in a real browser (Debian's Chromium driven by Playwright), against the
real Rasa and action servers and the e2e app database: token prompt, suggestions, copy, feedback.

Plain sync tests: Playwright's sync API must not run inside an asyncio loop."""
from __future__ import annotations

import json
import re
import tempfile
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select

from bot.channels.auth import fingerprint
from bot.channels.render import to_plain
from bot.config import ROOT
from bot.order_status import STATUS_TEXTS
from bot.storage.db import session_scope
from bot.storage.feedback import SuggestionFeedback

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
WAIT_MS = 15_000
SHOTS = ROOT / "artifacts" / "browser"
QUESTION = "个人备案要准备什么材料"
ORDER_NO = "ICP2026110400318"  # a demo order, approved


@pytest.fixture(scope="module")
def browser():
    expect.set_options(timeout=WAIT_MS)
    with tempfile.TemporaryDirectory(prefix="pw-") as tmp, sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS, downloads_path=tmp)
        yield chromium
        chromium.close()


@pytest.fixture
def token(assistant) -> str:
    return assistant.env["COPILOT_TOKENS"]  # set in tests/e2e/conftest.py


def new_page(browser: Browser, base: str, **context_options) -> Page:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 900}, **context_options)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(f"{base}/webhooks/copilot/")
    return page


def log_in(page: Page, token: str) -> None:
    page.locator("#token").fill(token)
    page.locator("#token").press("Enter")


def ask(page: Page, text: str, conversation: str = "") -> None:
    page.locator("#message").fill(text)
    page.locator("#conversation").fill(conversation)
    page.locator("#ask").click()


def stored_feedback(engine, conversation_id: str) -> list[tuple]:
    with session_scope(engine) as session:
        rows = session.execute(select(SuggestionFeedback).where(SuggestionFeedback.conversation_id == conversation_id)
                               .order_by(SuggestionFeedback.id)).scalars().all()
        return [(r.topic, r.verdict, r.text, r.agent) for r in rows]


def test_an_agent_gets_suggestions_copies_one_and_marks_them(browser, assistant, token, kb, app_db):
    page = new_page(browser, assistant.base, permissions=["clipboard-read", "clipboard-write"])
    conversation = f"pw-{uuid.uuid4().hex[:12]}"
    try:
        expect(page.locator("#login")).to_be_visible()
        expect(page.locator("#work")).to_be_hidden()

        # A wrong token is found out at the first call, forgotten, and asked for again.
        log_in(page, "not-the-token-0000000000")
        expect(page.locator("#work")).to_be_visible()
        ask(page, QUESTION, conversation)
        expect(page.locator("#login")).to_be_visible()
        expect(page.locator("#login-error")).to_contain_text("令牌无效")
        assert page.evaluate("sessionStorage.getItem('copilot.token')") is None

        # The right one: what was asked is asked again.
        log_in(page, token)
        cards = page.locator(".cp-card")
        expect(cards.first).to_be_visible()
        assert 3 <= cards.count() <= 5
        first = cards.first
        topic = kb.get("materials_individual")
        assert first.get_attribute("data-topic") == topic.id
        expect(first.locator(".cp-question")).to_have_text(topic.question)
        expect(first.locator(".cp-confidence")).to_have_text(re.compile(r"^\d{1,3}%$"))
        assert first.locator(".cp-answer strong").count() >= 1  # the answer's markdown, rendered safely
        expect(page.locator("#intent")).to_contain_text("faq")
        expect(page.locator("#order")).to_be_hidden()

        # Copy: the plain answer (no markdown marks) lands on the clipboard.
        first.locator(".cp-copy").click()
        expect(first.locator(".cp-copy")).to_have_text("已复制")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == to_plain(topic.answer)  # the WeChat-ready text, not the markdown

        # 已采用 on the first, 不对 on the second: both stored, with the agent's fingerprint.
        second = cards.nth(1)
        second_topic = second.get_attribute("data-topic")
        first.locator(".cp-used").click()
        expect(first.locator(".cp-status")).to_have_text("已记录：已采用")
        second.locator(".cp-wrong").click()
        expect(second.locator(".cp-status")).to_have_text("已记录：不对")
        assert first.locator(".cp-used").is_disabled() and first.locator(".cp-wrong").is_disabled()
        agent = fingerprint(token)
        assert stored_feedback(app_db[1], conversation) == [
            (topic.id, "used", QUESTION, agent), (second_topic, "wrong", QUESTION, agent)]

        # An order number brings the order's status and the entity.
        ask(page, f"客户问订单 {ORDER_NO} 现在到哪一步了")
        expect(page.locator("#order")).to_be_visible()
        expect(page.locator("#order")).to_contain_text(ORDER_NO)
        expect(page.locator("#order")).to_contain_text(STATUS_TEXTS["approved"].label)
        expect(page.locator("#entities")).to_contain_text(f"order_id：{ORDER_NO}")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "copilot.png"), full_page=True)

        # The token is kept for this tab: a reload asks for nothing; 退出 forgets it.
        page.reload()
        expect(page.locator("#work")).to_be_visible()
        page.locator("#logout").click()
        expect(page.locator("#login")).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('copilot.token')") is None
        assert page.dialogs == []
    finally:
        page.context.close()


# Runs before the page's scripts: a logged-in tab in a browser without navigator.clipboard, and a
# record of every execCommand with the text selected when it ran.
NO_CLIPBOARD_API = """
    sessionStorage.setItem('copilot.token', token);
    Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined, configurable: true});
    const execCommand = document.execCommand.bind(document);
    window.copies = [];
    document.execCommand = (command) => {
        const area = document.activeElement;
        const ok = execCommand(command);
        window.copies.push({command, ok, text: area.value.slice(area.selectionStart, area.selectionEnd)});
        return ok;
    };
"""


def test_copy_falls_back_to_a_selected_textarea_without_the_clipboard_api(browser, assistant, token):
    page = new_page(browser, assistant.base)
    try:
        page.add_init_script(f"(() => {{ const token = {json.dumps(token)};\n{NO_CLIPBOARD_API}\n}})();")
        page.reload()
        expect(page.locator("#work")).to_be_visible()
        ask(page, QUESTION)
        first = page.locator(".cp-card").first
        first.locator(".cp-copy").click()
        expect(first.locator(".cp-copy")).to_have_text("已复制")
        copies = page.evaluate("window.copies")
        assert len(copies) == 1 and copies[0]["command"] == "copy" and copies[0]["ok"] is True
        assert "身份证" in copies[0]["text"] and "**" not in copies[0]["text"]
        assert page.locator(".cp-offscreen").count() == 0  # the helper textarea is gone again
    finally:
        page.context.close()


def test_a_conversations_transcript_shows_its_turns(browser, assistant, token):
    conversation = f"pw-{uuid.uuid4().hex[:12]}"
    assistant.say(QUESTION, conversation)
    page = new_page(browser, assistant.base)
    try:
        log_in(page, token)
        page.locator("#conversation").fill(conversation)
        page.locator("#show-transcript").click()
        turns = page.locator("#turns .cp-turn")
        expect(turns.first).to_contain_text(QUESTION)
        expect(turns.first.locator(".cp-meta")).to_contain_text("faq")
        assert turns.count() >= 2  # the assistant's answer follows
        page.locator("#conversation").fill("pw-no-such-conversation")
        page.locator("#show-transcript").click()
        expect(page.locator("#error")).to_have_text("没有找到这个会话。")
    finally:
        page.context.close()


def test_the_reports_page_is_one_click_away_with_the_same_sign_in(browser, assistant, token):
    page = new_page(browser, assistant.base)
    try:
        log_in(page, token)
        expect(page.locator("#work")).to_be_visible()
        page.get_by_role("link", name="运营报表").click()
        page.wait_for_url(re.compile(r"/webhooks/reports/$"))
        expect(page.locator("#reports")).to_be_visible()  # no second token prompt
        expect(page.locator("#login")).to_be_hidden()
        expect(page.locator("#daily-chart svg")).to_be_visible()
        page.get_by_role("link", name="客服助手").click()
        expect(page.locator("#work")).to_be_visible()
    finally:
        page.context.close()
