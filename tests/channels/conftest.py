"""WeChat test fixtures: a fake WeChat API on 127.0.0.1. The real Redis for the shared state comes
from tests/conftest.py (`redis_url`, `redis_prefix`, `shared_redis`)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import parse_qs, urlparse

import pytest

from bot.serve import free_port

FAKE_APP_ID = "wx0123456789abcdef"
FAKE_APP_SECRET = "e2e-secret"


# --- a fake WeChat API ------------------------------------------------------------------------------


class FakeWeChat:
    """Issues access tokens and records customer-service messages; `expire_token()` makes the
    current token answer 40001 (as WeChat does after a refresh elsewhere or an expiry), and
    `fail_sends(code, …)` makes the next sends answer those error codes, one each, in order
    (0: that one succeeds)."""

    def __init__(self, app_id: str = FAKE_APP_ID, app_secret: str = FAKE_APP_SECRET):
        self.lock = threading.Condition()
        self.tokens_issued: list[str] = []
        self.valid: set[str] = set()
        self.sent: list[dict] = []  # accepted customer-service messages
        self.rejected: list[dict] = []  # 40001 answers
        self.failed: list[dict] = []  # answers forced by `fail_sends`
        self.attempts: list[dict] = []  # every customer-service request
        self._failures: list[int] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, data):
                body = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path != "/cgi-bin/token" or q.get("grant_type") != "client_credential":
                    return self._json({"errcode": 40002, "errmsg": "invalid grant_type"})
                if (q.get("appid"), q.get("secret")) != (app_id, app_secret):
                    return self._json({"errcode": 40125, "errmsg": "invalid appsecret"})
                with fake.lock:
                    token = f"tok-{len(fake.tokens_issued) + 1}"
                    fake.tokens_issued.append(token)
                    fake.valid.add(token)
                self._json({"access_token": token, "expires_in": 7200})

            def do_POST(self):
                url = urlparse(self.path)
                token = parse_qs(url.query).get("access_token", [""])[0]
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                record = {"token": token, "raw": raw, "body": json.loads(raw or b"{}")}
                with fake.lock:
                    if url.path != "/cgi-bin/message/custom/send":
                        return self._json({"errcode": 404, "errmsg": "not found"})
                    fake.attempts.append(record)
                    if token not in fake.valid:
                        fake.rejected.append(record)
                        fake.lock.notify_all()
                        return self._json({"errcode": 40001, "errmsg": "invalid credential"})
                    code = fake._failures.pop(0) if fake._failures else 0
                    if code:
                        fake.failed.append({**record, "errcode": code})
                        fake.lock.notify_all()
                        return self._json({"errcode": code, "errmsg": "forced failure"})
                    fake.sent.append(record)
                    fake.lock.notify_all()
                self._json({"errcode": 0, "errmsg": "ok"})

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def expire_token(self):
        with self.lock:
            self.valid.clear()

    def fail_sends(self, *codes: int):
        with self.lock:
            self._failures = list(codes)

    def attempts_to(self, openid):
        with self.lock:
            return [r for r in self.attempts if r["body"].get("touser") == openid]

    def sent_to(self, openid):
        with self.lock:
            return [r for r in self.sent if r["body"].get("touser") == openid]

    def wait_sent(self, openid, count=1, timeout=20.0):
        deadline = time.monotonic() + timeout
        with self.lock:
            while len([r for r in self.sent if r["body"].get("touser") == openid]) < count:
                if not self.lock.wait(max(0.0, deadline - time.monotonic())):
                    break
        return self.sent_to(openid)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_wechat() -> Iterator[FakeWeChat]:
    server = FakeWeChat()
    yield server
    server.close()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWeChat]:
    """One fake WeChat for a module's servers."""
    server = FakeWeChat()
    yield server
    server.close()
