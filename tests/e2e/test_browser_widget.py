"""The web chat widget in a real browser (Debian's Chromium driven by Playwright), against the real
Rasa and action servers: the widget's page, Rasa's socket.io channel, the FAQ action.

Plain sync tests: Playwright's sync API must not run inside an asyncio loop."""
from __future__ import annotations

import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bot.config import ROOT
from bot.faq.kb import load_spec

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
WAIT_MS = 15_000  # every wait is bounded; a FAQ turn takes well under a second
SHOTS = ROOT / "artifacts" / "browser"
QUESTION = "个人备案要准备什么材料"
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def browser():
    expect.set_options(timeout=WAIT_MS)
    with tempfile.TemporaryDirectory(prefix="pw-") as tmp, sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS,
                                      downloads_path=tmp)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, assistant):
    """A fresh context (empty localStorage: a new visitor) on the widget's page, connected."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1000, "height": 800})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    open_widget(page, assistant.base)
    yield page
    context.close()


def open_widget(page: Page, base: str) -> None:
    page.goto(f"{base}/webhooks/web/")
    expect(page.locator(".bw-send")).to_be_enabled()  # the server confirmed the session


def ask(page: Page, text: str) -> None:
    """Types `text` and presses Enter, then waits for the reply that follows it."""
    bots = page.locator(".bw-msg.bw-bot:not(.bw-typing):not(.bw-welcome)")
    before = bots.count()
    page.locator(".bw-input").fill(text)
    page.locator(".bw-input").press("Enter")
    expect(page.locator(".bw-user .bw-bubble").last).to_have_text(text)
    expect(bots).not_to_have_count(before)


def last_bot_text(page: Page) -> str:
    return page.locator(".bw-msg.bw-bot:not(.bw-typing) .bw-bubble").last.inner_text()


def user_texts(page: Page) -> list[str]:
    return page.locator(".bw-user .bw-bubble").all_inner_texts()


def tracker_user_texts(base: str, session_id: str, last: str, timeout: float = 10.0) -> list[str]:
    """What Rasa's tracker for `session_id` holds from the user, once its last message is `last`:
    Rasa emits the replies before it stores the turn, so the page can be ahead of the tracker."""
    deadline = time.monotonic() + timeout
    while True:
        tracker = requests.get(f"{base}/conversations/{session_id}/tracker", timeout=10).json()
        said = [e.get("text") for e in tracker.get("events") or [] if e.get("event") == "user"]
        if (said and said[-1] == last) or time.monotonic() > deadline:
            return said
        time.sleep(0.2)


def must_mention(topic_id: str) -> list[str]:
    return next(t["must_mention"] for t in load_spec(ROOT / "faq") if t["id"] == topic_id)


# --- a conversation ---------------------------------------------------------------------------------


def test_faq_answer_quick_reply_and_history_after_reload(page, assistant, kb):
    page.evaluate("""() => {  // records whether the typing indicator ever showed
        window.typingSeen = false;
        const typing = document.querySelector('.bw-typing');
        new MutationObserver(() => { if (!typing.hidden) window.typingSeen = true; })
            .observe(typing, {attributes: true, attributeFilter: ['hidden']});
    }""")
    ask(page, QUESTION)
    answer = page.locator(".bw-msg.bw-bot:not(.bw-typing) .bw-bubble").last
    for needle in must_mention("materials_individual"):
        assert needle in answer.inner_text()
    assert answer.locator("strong").count() >= 1 and answer.locator("li").count() >= 3  # markdown rendered
    assert "**" not in answer.inner_text()
    assert page.evaluate("window.typingSeen") is True
    expect(page.locator(".bw-typing")).to_be_hidden()

    # The related topics are quick replies: the title becomes the user's bubble, the payload is sent.
    topic = kb.get("materials_individual")
    related = kb.get(topic.related[0])
    reply = page.locator(".bw-quick .bw-reply", has_text=related.question)
    expect(reply).to_have_count(1)
    reply.click()
    expect(page.locator(".bw-user .bw-bubble").last).to_have_text(related.question)
    expect(page.locator(".bw-msg.bw-bot:not(.bw-typing) .bw-bubble").last).to_contain_text(
        must_mention(related.id)[0])
    expect(page.locator(".bw-quick .bw-reply", has_text=related.question)).to_have_count(0)

    session_id = page.evaluate("BeianWidget.sessionId()")
    assert session_id and page.evaluate("JSON.parse(localStorage.getItem('beian.session'))") == session_id
    said = tracker_user_texts(assistant.base, session_id, last=f'/faq{{"faq_topic": "{related.id}"}}')
    assert said[-2:] == [QUESTION, f'/faq{{"faq_topic": "{related.id}"}}'], said  # the widget's session
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "widget.png"))
    shown = user_texts(page)
    bot_count = page.locator(".bw-msg.bw-bot:not(.bw-typing):not(.bw-welcome)").count()

    page.reload()
    expect(page.locator(".bw-send")).to_be_enabled()
    assert user_texts(page) == shown
    assert page.locator(".bw-msg.bw-bot:not(.bw-typing):not(.bw-welcome)").count() == bot_count
    assert page.evaluate("BeianWidget.sessionId()") == session_id

    # The same conversation goes on: the reconnected socket joined the session's room again.
    ask(page, "管局审核一般要几个工作日")
    assert "20" in last_bot_text(page)
    said = tracker_user_texts(assistant.base, session_id, last="管局审核一般要几个工作日")
    assert said[-3:] == [QUESTION, f'/faq{{"faq_topic": "{related.id}"}}', "管局审核一般要几个工作日"], said


def test_html_from_the_user_or_the_bot_is_shown_as_text(page):
    ask(page, XSS)
    expect(page.locator(".bw-user .bw-bubble").last).to_have_text(XSS)
    # The bot's text goes through the markdown renderer: feed it a hostile message directly.
    page.evaluate("""(xss) => BeianWidget.socket.listeners('bot_uttered')
        .forEach(f => f({text: xss + ' **粗体** [点我](javascript:alert(2)) [官网](https://beian.miit.gov.cn)'}))""", XSS)
    last = page.locator(".bw-msg.bw-bot .bw-bubble").last
    expect(last).to_contain_text(XSS)
    assert last.locator("strong").inner_text() == "粗体"
    assert last.locator("a").count() == 1 and last.locator("a").get_attribute("href") == "https://beian.miit.gov.cn/"
    assert "[点我](javascript:alert(2))" in last.inner_text()
    assert page.locator("#beian-widget img, #beian-widget script, #beian-widget [onerror]").count() == 0
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert page.dialogs == []


def test_markdown_renderer_builds_only_safe_elements(page):
    html = page.evaluate("""() => {
        const div = document.createElement('div');
        div.appendChild(BeianMarkdown.render(
            '第一行 **重点**\\n第二行<b>x</b>\\n- 甲\\n- 乙\\n\\n1. 一\\n2. 二\\n[链接](http://a.example/x?y=1) [坏](data:text/html,x)'));
        return div.innerHTML;
    }""")
    assert html == ('<p>第一行 <strong>重点</strong><br>第二行&lt;b&gt;x&lt;/b&gt;</p><ul><li>甲</li><li>乙</li></ul>'
                    '<ol><li>一</li><li>二</li></ol><p><a href="http://a.example/x?y=1" target="_blank" '
                    'rel="noopener noreferrer nofollow">链接</a> [坏](data:text/html,x)</p>')


# --- the input ----------------------------------------------------------------------------------------


def test_enter_while_composing_chinese_does_not_send(page):
    page.evaluate("""() => {  // counts what the widget sends
        window.sent = [];
        const emit = BeianWidget.socket.emit.bind(BeianWidget.socket);
        BeianWidget.socket.emit = (event, data) => { if (event === 'user_uttered') window.sent.push(data.message);
                                                     return emit(event, data); };
    }""")
    box = page.locator(".bw-input")
    box.fill("个人备案")
    for init in ("{key: 'Enter', code: 'Enter', isComposing: true, bubbles: true, cancelable: true}",
                 "{key: 'Enter', code: 'Enter', keyCode: 229, bubbles: true, cancelable: true}"):
        page.evaluate(f"document.querySelector('.bw-input').dispatchEvent(new KeyboardEvent('keydown', {init}))")
        assert page.evaluate("window.sent") == []
        assert box.input_value() == "个人备案"
    assert user_texts(page) == []

    box.fill("   ")
    box.press("Enter")
    page.locator(".bw-send").click()
    assert page.evaluate("window.sent") == [] and user_texts(page) == []

    assert box.get_attribute("maxlength") == "500"
    box.fill("个人备案要准备什么")
    box.press("Enter")
    expect(page.locator(".bw-user .bw-bubble")).to_have_text(["个人备案要准备什么"])
    assert page.evaluate("window.sent") == ["个人备案要准备什么"]
    assert box.input_value() == ""


def test_a_new_conversation_forgets_the_old_one(page):
    ask(page, QUESTION)
    old = page.evaluate("BeianWidget.sessionId()")
    page.locator(".bw-restart").click()
    expect(page.locator(".bw-user")).to_have_count(0)
    expect(page.locator(".bw-welcome")).to_have_count(1)
    page.wait_for_function("(old) => BeianWidget.sessionId() && BeianWidget.sessionId() !== old", arg=old)
    new = page.evaluate("BeianWidget.sessionId()")
    assert page.evaluate("JSON.parse(localStorage.getItem('beian.history')).items") == []
    page.reload()
    expect(page.locator(".bw-send")).to_be_enabled()
    assert page.evaluate("BeianWidget.sessionId()") == new and user_texts(page) == []


def test_a_dropped_connection_shows_a_banner_and_comes_back(page):
    banner = page.locator(".bw-banner")
    expect(banner).to_be_hidden()
    # Polling upgrades to a WebSocket: the page's Content-Security-Policy lets it through.
    page.wait_for_function("BeianWidget.socket.io.engine.transport.name === 'websocket'")
    page.evaluate("BeianWidget.socket.io.engine.close()")  # the transport drops, as when the server goes
    expect(banner).to_be_visible()
    expect(banner).to_have_text("连接已断开，正在重连…")
    expect(page.locator(".bw-send")).to_be_disabled()
    expect(banner).to_be_hidden()  # socket.io reconnects by itself
    expect(page.locator(".bw-send")).to_be_enabled()
    ask(page, QUESTION)  # and the reply reaches the rejoined session
    assert must_mention("materials_individual")[0] in last_bot_text(page)


# --- the layout and embedding ---------------------------------------------------------------------


@pytest.mark.parametrize("width, height", [(375, 667), (360, 640)])
def test_phone_layout(browser, assistant, width, height):
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2, locale="zh-CN")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    try:
        open_widget(page, assistant.base)
        ask(page, QUESTION)
        ask(page, "https://example.com/" + "a" * 200)  # one long unbreakable word
        for selector in (".bw-input", ".bw-send"):
            box = page.locator(selector).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width and box["y"] + box["height"] <= height
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.evaluate("document.querySelector('.bw-log').scrollWidth <= document.querySelector('.bw-log').clientWidth")
        assert page.locator('meta[name="viewport"]').get_attribute("content").startswith("width=device-width")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"widget-phone-{width}.png"))
    finally:
        context.close()


@pytest.fixture
def host_site(assistant):
    """Another site (http://localhost:<port>, another origin than the assistant's 127.0.0.1) whose
    page embeds the widget exactly as the README says. A real server: Chromium keeps pages of
    unknown address (routed ones) away from loopback."""
    html = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>某公司官网</title></head><body><h1>某公司官网</h1>'
            f'<script src="{assistant.base}/webhooks/web/widget.js"></script>'
            f'<script>BeianWidget.init({{server: "{assistant.base}"}})</script></body></html>').encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_embedded_on_another_site_with_one_script_tag(browser, assistant, host_site):
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    try:
        page.goto(host_site)
        launcher = page.locator(".bw-launcher")
        expect(launcher).to_be_visible()
        expect(page.locator(".bw-panel")).to_be_hidden()
        launcher.click()
        expect(page.locator(".bw-panel")).to_be_visible()
        expect(page.locator(".bw-send")).to_be_enabled()  # socket.io across origins
        ask(page, QUESTION)
        assert must_mention("materials_individual")[0] in last_bot_text(page)
        assert page.evaluate("getComputedStyle(document.querySelector('.bw-panel')).position") == \
            "fixed"  # widget.css came from the assistant's server
        page.locator(".bw-close").click()
        expect(page.locator(".bw-panel")).to_be_hidden()
    finally:
        context.close()
