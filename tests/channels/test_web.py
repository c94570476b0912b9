"""The widget's and the copilot page's static files, served through a real Sanic app (over ASGI, no
server, no model): the whitelist, traversal attempts, content types, cache headers, the vendored
socket.io client. What the files do in a browser is tested in tests/e2e/test_browser_*.py."""
from __future__ import annotations

import asyncio
import hashlib
import re
import uuid

import pytest
import yaml
from sanic import Sanic

from bot.channels.copilot import CopilotConfig, CopilotInput
from bot.channels.web import STATIC_DIR, WIDGET_FILES, WidgetInput
from bot.config import ROOT

TOKEN = "web-test-token-0123456789"


class Response:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


async def call(app: Sanic, path: str, method: str = "GET", headers: dict | None = None) -> Response:
    """One request through the app's ASGI interface; `path` goes in raw, exactly as a client sent it."""
    raw_path, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": raw_path, "raw_path": raw_path.encode("latin-1"),
             "query_string": query.encode(), "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 5005)}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Response(start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, body)


@pytest.fixture(scope="module")
def app() -> Sanic:
    """The two channels' blueprints under the prefixes Rasa gives them (/webhooks/<name>).

    One app per module: Sanic's start-up rewrites its request handling once per process."""
    async def on_new_message(_):
        raise AssertionError("no route here handles messages")

    sanic = Sanic(f"web-test-{uuid.uuid4().hex[:8]}")
    sanic.blueprint(WidgetInput.from_credentials(None).blueprint(on_new_message), url_prefix="/webhooks/web")
    sanic.blueprint(CopilotInput(CopilotConfig(tokens=(TOKEN,))).blueprint(on_new_message),
                    url_prefix="/webhooks/copilot")
    asyncio.run(sanic._startup())  # what Sanic's ASGI lifespan start-up does: finalize routes, signals
    return sanic


# --- what is served ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name, content_type, cache", [
    ("widget.js", "text/javascript; charset=utf-8", "public, max-age=300"),
    ("widget.css", "text/css; charset=utf-8", "public, max-age=300"),
    ("markdown.js", "text/javascript; charset=utf-8", "public, max-age=300"),
    ("socket.io.min.js", "text/javascript; charset=utf-8", "public, max-age=86400"),
])
async def test_widget_files_are_served_with_type_and_cache_headers(app, name, content_type, cache):
    r = await call(app, f"/webhooks/web/{name}")
    assert r.status == 200
    assert r.headers["content-type"] == content_type
    assert r.headers["cache-control"] == cache
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.body == (STATIC_DIR / name).read_bytes()


@pytest.mark.parametrize("path", ["/webhooks/web/", "/webhooks/web"])
async def test_the_demo_page_is_html_with_a_strict_policy(app, path):
    r = await call(app, path)
    assert r.status == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "object-src 'none'" in csp and "unsafe-inline" not in csp
    assert '<meta name="viewport"' in r.text and "widget.js" in r.text


async def test_the_copilot_page_needs_no_token_and_cannot_be_framed(app):
    r = await call(app, "/webhooks/copilot/")
    assert r.status == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "copilot.js" in r.text
    for name in ("copilot.js", "copilot.css", "markdown.js"):
        asset = await call(app, f"/webhooks/copilot/{name}")
        assert asset.status == 200 and asset.body == (STATIC_DIR / name).read_bytes()
    # The API itself still wants the token; the old health check moved to /health.
    assert (await call(app, "/webhooks/copilot/conversations/x")).status == 401
    assert (await call(app, "/webhooks/copilot/health")).status == 200


@pytest.mark.parametrize("page, prefix", [("index.html", "/webhooks/web/"), ("copilot.html", "/webhooks/copilot/")])
async def test_every_file_a_page_refers_to_is_served(app, page, prefix):
    html = (STATIC_DIR / page).read_text(encoding="utf-8")
    refs = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"', html)  # what the page loads
    assert refs
    # Links lead only to the assistant's own pages (the reports page has its own tests).
    assert set(re.findall(r'<a\b[^>]*\bhref="([^"]+)"', html)) <= {"/webhooks/reports/", "/webhooks/copilot/"}
    for ref in refs:
        assert ref.startswith(prefix), ref  # absolute: works with and without the trailing slash
        r = await call(app, ref)
        assert r.status == 200, ref


async def test_an_unchanged_file_gets_304(app):
    first = await call(app, "/webhooks/web/widget.js")
    etag = first.headers["etag"]
    again = await call(app, "/webhooks/web/widget.js", headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    other = await call(app, "/webhooks/web/widget.js", headers={"If-None-Match": '"0000"'})
    assert other.status == 200 and other.body == first.body


# --- what is not ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/webhooks/web/..%2f..%2fetc/passwd",
    "/webhooks/web/../../etc/passwd",
    "/webhooks/web/%2e%2e/%2e%2e/etc/passwd",
    "/webhooks/web/..%2fweb.py",
    "/webhooks/web/%2e%2e%2fweb.py",
    "/webhooks/web/..%5cweb.py",
    "/webhooks/web/static/widget.js",
    "/webhooks/web/static%2fwidget.js",
    "/webhooks/web/widget.js%00.png",
    "/webhooks/web/WIDGET.JS",
    "/webhooks/web/index.html",           # the page is served at /, not by name
    "/webhooks/web/copilot.js",           # the other channel's file
    "/webhooks/web/socket.io.LICENSE",    # in the folder, not in the whitelist
    "/webhooks/web/socket.io.VERSION",
    "/webhooks/web/socket.io.min.js.map",
    "/webhooks/web/web.py",
    "/webhooks/copilot/widget.js",
    "/webhooks/copilot/..%2fweb.py",
    "/webhooks/copilot/copilot.html",
])
async def test_anything_off_the_whitelist_is_404(app, path):
    r = await call(app, path)
    assert r.status == 404, path
    assert b"root:" not in r.body and b"import" not in r.body


async def test_only_get_is_allowed(app):
    r = await call(app, "/webhooks/web/widget.js", method="POST")
    assert r.status == 405


def test_the_whitelist_names_only_plain_files_in_the_static_folder():
    for name in WIDGET_FILES:
        assert "/" not in name and "\\" not in name and ".." not in name
        assert (STATIC_DIR / name).is_file()


# --- the vendored socket.io client and the registration ---------------------------------------------


def test_the_socket_io_client_is_the_noted_4x_version_with_its_license():
    code = (STATIC_DIR / "socket.io.min.js").read_bytes()
    note = (STATIC_DIR / "socket.io.VERSION").read_text(encoding="utf-8")
    version = re.search(r"Socket\.IO v(\d+\.\d+\.\d+)", code[:200].decode()).group(1)
    assert version.startswith("4.")  # Socket.IO protocol v5: python-socketio 5.x on the server
    assert f"socket.io-client {version}" in note
    assert hashlib.sha256(code).hexdigest() in note
    assert "MIT License" in (STATIC_DIR / "socket.io.LICENSE").read_text(encoding="utf-8")


def test_credentials_register_the_widget_and_its_socketio_channel():
    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    assert "bot.channels.web.WidgetInput" in credentials
    assert "socketio" not in credentials  # Rasa's own loses every reply with python-socketio 5.18
    socketio = credentials["bot.channels.web.WidgetSocketIOInput"]
    assert socketio["user_message_evt"] == "user_uttered" and socketio["bot_message_evt"] == "bot_uttered"
    assert socketio["session_persistence"] is True  # the widget's reload keeps the conversation


# --- the socket.io channel's handshake ---------------------------------------------------------------


class Recorder:
    """Stands in for the AsyncServer's room and emit calls, which are coroutines in python-socketio 5.x."""

    def __init__(self):
        self.calls = []

    def __call__(self, name):
        async def record(*args, **kwargs):
            self.calls.append((name, args, kwargs))
        return record


@pytest.fixture
def socket_channel():
    from bot.channels.web import WidgetSocketIOInput

    received = []

    async def on_new_message(message):
        received.append(message)

    channel = WidgetSocketIOInput.from_credentials(
        {"user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered", "session_persistence": True})
    channel.blueprint(on_new_message)
    recorder = Recorder()
    channel.sio.enter_room = recorder("enter_room")
    channel.sio.emit = recorder("emit")
    handlers = channel.sio.handlers["/"]
    return handlers, recorder.calls, received


async def test_a_session_request_joins_the_sessions_room(socket_channel):
    handlers, calls, _ = socket_channel
    await handlers["session_request"]("sid1", {"session_id": "0123456789abcdef"})
    assert calls == [("enter_room", ("sid1", "0123456789abcdef"), {"namespace": None}),
                     ("emit", ("session_confirm", "0123456789abcdef"), {"room": "sid1", "namespace": None})]


@pytest.mark.parametrize("data", [None, {}, {"session_id": None}, {"session_id": {"$ne": 1}}, {"session_id": 5},
                                  {"session_id": "../../etc"}, {"session_id": "x" * 65}, {"session_id": "short"},
                                  "0123456789abcdef"])
async def test_a_missing_or_odd_session_id_gets_a_new_one(socket_channel, data):
    handlers, calls, _ = socket_channel
    await handlers["session_request"]("sid1", data)
    (_, (sid, room), _), (_, (event, confirmed), _) = calls
    assert sid == "sid1" and event == "session_confirm"
    assert room == confirmed and re.fullmatch(r"[0-9a-f]{32}", confirmed)


@pytest.mark.parametrize("data", [None, "text", {"message": None, "session_id": "0123456789abcdef"},
                                  {"message": ["a"], "session_id": "0123456789abcdef"},
                                  {"message": "备" * 20_001, "session_id": "0123456789abcdef"}])
async def test_a_message_that_is_not_text_never_reaches_rasa(socket_channel, data):
    handlers, _, received = socket_channel
    await handlers["user_uttered"]("sid1", data)
    assert received == []


async def test_a_text_message_reaches_rasa_under_its_session(socket_channel):
    handlers, _, received = socket_channel
    await handlers["user_uttered"]("sid1", {"message": "个人备案要准备什么材料", "session_id": "0123456789abcdef"})
    assert [(m.text, m.sender_id, m.input_channel) for m in received] == [
        ("个人备案要准备什么材料", "0123456789abcdef", "socketio")]
