"""Bad input and abuse through every HTTP entry point of one real Rasa server (with the action server).

Over a thousand inputs, generated with hypothesis (derandomized, so every run sends the same ones)
or from fixed lists in `abuse_inputs.py`, go to REST, socket.io, WeChat and the copilot. After each
batch:

- not one response is a 5xx (or a dropped connection, except for oversized bodies, which the
  server may refuse by closing);
- the server still answers `GET /status`, and the socket.io channel still answers a real client;
- the app database is as it was: every column of every filing order, and the number of tickets and
  of suggestion-feedback rows (bad input creates and changes nothing).

Forged and stale WeChat signatures (over 100 distinct) and forged copilot tokens (over 100) are all
refused with a 4xx, and none reaches Rasa: no conversation exists afterwards for any forged WeChat
sender, nothing of the copilot's answer leaks into a refusal and no feedback is stored. Finally the
server logs carry none of the phone numbers and e-mail addresses sent inside messages, and neither
the tokens (valid or forged) nor the WeChat token.

What this file found is fixed: `harden_sanic` in bot/channels/rest.py (Content-Length and Accept
headers), text-only fields in bot/channels/wechat_protocol.py (an XML element where WeChat sends
text), and in bot/channels/web.py a 400 for a polling POST to a socket.io session its client closed
(python-engineio raised a 500) and non-object socket.io metadata ignored (it crashed Rasa's turn).
"""
from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections import Counter
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import text as sql

import abuse_inputs as bad
from bot.config import ROOT
from servers import WECHAT_TOKEN

pytestmark = pytest.mark.e2e

LOGS = ROOT / "artifacts" / "e2e"
TIMEOUT = 20
MIN_TOTAL = 1000
MIN_FORGED = 100

COUNTS: Counter = Counter()  # (entry point, category) -> inputs sent
STATUSES: Counter = Counter()  # (entry point, HTTP status or "dropped") -> responses
FORGED_TOKENS: set[str] = set()


def run(strategy, examples: int, check) -> None:
    """Feed `examples` derandomized draws of `strategy` to `check`; no shrinking (bounded time:
    `check` records problems instead of raising, so nothing fails inside hypothesis)."""

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(strategy)
    def inner(example):
        check(example)

    inner()


class Probe:
    """Sends requests, counts them, and notes every 5xx or dropped connection."""

    def __init__(self, base: str, copilot_token: str):
        self.base, self.copilot_token = base, copilot_token
        self.http = requests.Session()
        self.problems: list[str] = []

    def send(self, entry: str, category: str, method: str, path: str, may_drop: bool = False, **kwargs):
        kwargs.setdefault("timeout", TIMEOUT)
        COUNTS[(entry, category)] += 1
        try:
            r = self.http.request(method, self.base + path, **kwargs)
        except requests.ConnectionError as e:
            STATUSES[(entry, "dropped")] += 1
            if not may_drop:
                self.problems.append(f"{entry}/{category}: {method} {path[:80]}: {type(e).__name__}: {str(e)[:150]}")
            self.http.close()
            return None
        except requests.RequestException as e:
            self.problems.append(f"{entry}/{category}: {method} {path[:80]}: {type(e).__name__}: {str(e)[:150]}")
            self.stop_unless_alive(f"{entry}/{category} {method} {path[:80]}")
            return None
        STATUSES[(entry, r.status_code)] += 1
        if r.status_code >= 500:
            self.problems.append(f"{entry}/{category}: {method} {path[:80]} -> {r.status_code} {r.text[:150]!r}")
        return r

    def alive(self) -> bool:
        try:
            return requests.get(f"{self.base}/status", timeout=10).status_code == 200
        except requests.RequestException:
            return False

    def stop_unless_alive(self, after: str) -> None:
        """A server that stopped answering fails the test at once, instead of timing out request after request."""
        if not self.alive():
            pytest.fail(f"the server stopped answering /status after {after}", pytrace=False)

    def settle(self, snapshot_before, engine) -> None:
        """The end of a batch: no 5xx, still up, database untouched."""
        problems, self.problems = self.problems, []
        assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:40])
        assert self.http.get(f"{self.base}/status", timeout=TIMEOUT).status_code == 200
        assert snapshot(engine) == snapshot_before


def snapshot(engine) -> dict:
    """Every column of every order; how many tickets and feedback rows there are."""
    with engine.connect() as c:
        return {
            "orders": [tuple(r) for r in c.execute(sql("SELECT * FROM filing_orders ORDER BY id"))],
            "tickets": c.execute(sql("SELECT count(*) FROM tickets")).scalar(),
            "feedback": c.execute(sql("SELECT count(*) FROM suggestion_feedback")).scalar(),
        }


@pytest.fixture(scope="module")
def probe(assistant):
    tokens = [t.strip() for t in assistant.env.get("COPILOT_TOKENS", "").split(",") if t.strip()]
    assert tokens and assistant.env.get("WECHAT_TOKEN") == WECHAT_TOKEN, "conftest must configure both channels"
    p = Probe(assistant.base, tokens[0])
    yield p
    p.http.close()


@pytest.fixture(scope="module")
def before(assistant, app_db):
    """The database before the first bad input, and where each server log ended then."""
    return {"db": snapshot(app_db[1]), "log_offsets": log_sizes()}


def log_sizes() -> dict:
    return {p.name: p.stat().st_size for p in LOGS.glob("*.log")}


def logged_since(sizes: dict) -> str:
    """What the servers logged since `log_sizes()` returned `sizes`."""
    time.sleep(0.5)
    return "".join(p.read_bytes()[sizes.get(p.name, 0):].decode("utf-8", "replace") for p in sorted(LOGS.glob("*.log")))


def copilot_auth(probe: Probe) -> dict:
    return {"Authorization": f"Bearer {probe.copilot_token}"}


def conversation_exists(probe: Probe, conversation_id: str) -> bool:
    r = probe.http.get(f"{probe.base}/webhooks/copilot/conversations/{quote(conversation_id, safe='')}",
                       headers=copilot_auth(probe), timeout=TIMEOUT)
    assert r.status_code in (200, 404), (r.status_code, r.text[:200])
    return r.status_code == 200


# --- REST ------------------------------------------------------------------------------------------

REST = "/webhooks/rest/webhook"

rest_messages = st.one_of(
    st.tuples(st.just("text"), bad.texts),
    st.tuples(st.just("contact"), bad.contacts),
)


def test_rest_messages(probe, before, app_db):
    """Strings of every kind as the message: a 200 with a reply (never a 5xx)."""
    n = iter(range(10**6))

    def check(example):
        category, message = example
        r = probe.send("rest", category, "POST", REST, json={"sender": f"abuse-rest-{next(n)}", "message": message})
        if r is not None and r.status_code == 200 and not isinstance(r.json(), list):
            probe.problems.append(f"rest/{category}: not a list: {r.text[:100]}")

    run(rest_messages, 220, check)
    for message in bad.LONE_SURROGATES:  # JSON can carry them; UTF-8 cannot
        body = json.dumps({"sender": f"abuse-rest-{next(n)}", "message": message}).encode()
        probe.send("rest", "lone_surrogate", "POST", REST, data=body, headers={"Content-Type": "application/json"})
    probe.send("rest", "100kb", "POST", REST, json={"sender": "abuse-rest-big", "message": bad.big_text(100)})
    probe.settle(before["db"], app_db[1])


rest_bodies = st.one_of(
    st.tuples(st.just("malformed_json"), st.sampled_from(bad.MALFORMED_JSON), st.sampled_from(bad.CONTENT_TYPES)),
    st.tuples(st.just("invalid_utf8"), st.binary(min_size=1, max_size=200).filter(
        lambda b: b.decode("utf-8", "ignore").encode() != b), st.just("application/json")),
    st.tuples(st.just("wrong_types"), st.builds(lambda s, m: bad.dumps({"sender": s, "message": m}),
                                                bad.wrong_types, bad.wrong_types), st.just("application/json")),
    st.tuples(st.just("wrong_types"), bad.json_values.map(bad.dumps), st.just("application/json")),
    st.tuples(st.just("wrong_metadata"), st.builds(lambda m: bad.dumps({"sender": "abuse-meta", "message": "你好",
                                                                         "metadata": m}), bad.json_values),
              st.just("application/json")),
    st.tuples(st.just("content_type"), st.builds(lambda t: bad.dumps({"sender": "abuse-ct", "message": t}),
                                                 st.sampled_from(bad.NASTY)), st.sampled_from(bad.CONTENT_TYPES)),
)


def test_rest_raw_bodies(probe, before, app_db):
    """Malformed, nested, mistyped and non-UTF-8 bodies under any content type: a 4xx or a reply."""

    def check(example):
        category, body, content_type = example
        headers = {"Content-Type": content_type} if content_type else {}
        probe.send("rest", category, "POST", REST, data=body, headers=headers)

    run(rest_bodies, 200, check)
    for q in ("?stream=true", "?stream=abc", "?stream=true&stream=false"):
        probe.send("rest", "query", "POST", REST + q, json={"sender": "abuse-stream", "message": "<script>"})
        probe.send("rest", "query", "POST", REST + q, data=b"{nope", headers={"Content-Type": "application/json"})
    probe.send("rest", "nested_json", "POST", REST, data=("[" * 100_000).encode(),
               headers={"Content-Type": "application/json"})
    probe.settle(before["db"], app_db[1])


# --- HTTP itself: methods, headers, raw requests, on every entry point --------------------------------

ENDPOINTS = [REST, "/webhooks/wechat/webhook", "/webhooks/copilot/suggest", "/webhooks/copilot/feedback",
             "/webhooks/copilot/conversations/x", "/socket.io/"]


def raw_http(port: int, request: bytes) -> str:
    """Send `request` as is; the status line of the answer ('' when the server just closes)."""
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(request)
            s.shutdown(socket.SHUT_WR)
            while b"\r\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:  # reset, broken pipe, timeout: the server hung up, which is an answer too
            pass
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def test_methods_headers_and_raw_http(probe, before, app_db, assistant):
    for path in ENDPOINTS:
        for method in ("PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"):
            probe.send(path.split("/")[2] if path.startswith("/webhooks") else "socketio", "method", method, path)
        for name, headers in [
            ("huge_header", {"X-Pad": "a" * 7000}),
            ("huge_header", {f"X-Pad-{i}": "b" * 60 for i in range(100)}),
            ("huge_header", {"X-Pad": "c" * 20_000}),  # over Sanic's 8 KB: refused, not crashed
            ("huge_header", {"Cookie": "; ".join(f"c{i}=v" for i in range(1000))}),
            ("odd_header", {"Content-Type": "application/json; charset=\x7f", "Accept": "*/*;q=abc"}),
            ("odd_header", {"Content-Encoding": "gzip", "Content-Type": "application/json"}),
            ("odd_header", {"Host": "evil.example", "X-Forwarded-For": "' OR 1=1", "Origin": "null"}),
            ("odd_header", {"Authorization": "Bearer " + "é".encode().decode("latin-1") * 50}),
        ]:
            probe.send(path.split("/")[2] if path.startswith("/webhooks") else "socketio", name, "POST", path,
                       data=b'{"sender": "abuse-h", "message": "hi"}', headers=headers, may_drop=True)
    port = int(assistant.base.rsplit(":", 1)[1])
    bad_lengths = [f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n{{}}".encode()
                   for path in ENDPOINTS for length in ("-1", "abc", "-99999999", "1_0", "0x10")]
    for raw in bad_lengths + [
        b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n",
        b"POST /webhooks/wechat/webhook?signature=a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffff\r\n",
        b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET /webhooks/copilot/conversations/%ff%fe HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /webhooks/copilot/conversations/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS hello on the plain port
    ]:
        COUNTS[("http", "raw_request")] += 1
        status = raw_http(port, raw)
        if re.match(r"HTTP/1\.[01] 5\d\d", status):
            probe.problems.append(f"raw {raw[:60]!r} -> {status}")
        probe.stop_unless_alive(f"the raw request {raw[:70]!r}")
    probe.settle(before["db"], app_db[1])


# --- WeChat ---------------------------------------------------------------------------------------

WECHAT = "/webhooks/wechat/webhook"
_msg_ids = iter(range(7_000_000_000, 8_000_000_000))


def signed_query(timestamp: str | None = None, nonce: str | None = None) -> dict:
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or uuid.uuid4().hex[:10]
    return {"signature": bad.wechat_sign(WECHAT_TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}


def test_wechat_forged_and_stale_signatures_are_refused_and_reach_nothing(probe, before, app_db):
    now, nonce = str(int(time.time())), "abuse-nonce"
    forged = bad.forged_signatures(WECHAT_TOKEN, now, nonce, 130)
    assert len({json.dumps(q, sort_keys=True) for _, q in forged}) == len(forged) >= MIN_FORGED
    senders, accepted, sizes = [], [], log_sizes()
    for i, (category, query) in enumerate(forged):
        openid = f"abuse_forged_{i}"
        senders.append(openid)
        xml = bad.wechat_text_xml(openid, "我的手机号 13900001111 帮我查订单", next(_msg_ids)).encode()
        for method, kwargs in (("POST", {"data": xml, "headers": {"Content-Type": "text/xml"}}),
                               ("GET", {"params": {**query, "echostr": "forged-echo"}})):
            kwargs.setdefault("params", query)
            r = probe.send("wechat", category, method, WECHAT, **kwargs)
            if r is not None and not 400 <= r.status_code < 500:
                accepted.append(f"{method} {category} {query} -> {r.status_code} {r.text[:80]!r}")
            elif r is not None and "forged-echo" in r.text:
                accepted.append(f"echoed: {query}")
    bad.SENT_PHONES.add("13900001111")
    assert not accepted, f"{len(accepted)} forged request(s) accepted:\n" + "\n".join(accepted[:20])
    time.sleep(1)  # anything that did get through would have been handed to Rasa by now
    reached = [s for s in senders if conversation_exists(probe, s)]
    assert not reached, f"forged senders reached Rasa: {reached[:10]}"
    assert "abuse_forged_" not in logged_since(sizes), "a forged message was taken on (logged with its sender)"
    # The check can see a conversation: a correctly signed message from a new sender makes one.
    control = f"abuse_control_{uuid.uuid4().hex[:8]}"
    r = probe.http.post(f"{probe.base}{WECHAT}", params=signed_query(),
                        data=bad.wechat_text_xml(control, "你好", next(_msg_ids)).encode(), timeout=TIMEOUT)
    assert r.status_code == 200, r.text[:200]
    assert conversation_exists(probe, control)
    probe.settle(before["db"], app_db[1])


wechat_messages = st.one_of(
    st.tuples(st.just("text"), bad.texts, st.sampled_from(["text"])),
    st.tuples(st.just("contact"), bad.contacts, st.sampled_from(["text"])),
    st.tuples(st.just("msg_type"), st.sampled_from(bad.NASTY),
              st.sampled_from(["image", "voice", "video", "location", "link", "shortvideo", "file", "event",
                               "TEXT", "miniprogrampage", "<b>", ""])),
)


def test_wechat_correctly_signed_bad_messages(probe, before, app_db):
    """Correctly signed, so the body is read: odd text, odd message types, bombs, malformed XML."""
    n = iter(range(10**6))

    def check(example):
        category, content, msg_type = example
        xml = bad.wechat_text_xml(f"abuse_wx_{next(n)}", content, next(_msg_ids), msg_type=msg_type)
        probe.send("wechat", category, "POST", WECHAT, params=signed_query(),
                   data=xml.encode("utf-8", "surrogatepass"), headers={"Content-Type": "text/xml"})

    run(wechat_messages, 150, check)
    for category, body in bad.xml_bodies(f"abuse_xml_{uuid.uuid4().hex[:6]}", next(_msg_ids)):
        probe.send("wechat", category, "POST", WECHAT, params=signed_query(), data=body,
                   headers={"Content-Type": "text/xml"}, may_drop=category == "xml_oversized")
    big = bad.wechat_text_xml("abuse_wx_big", bad.big_text(100), next(_msg_ids)).encode()
    probe.send("wechat", "100kb", "POST", WECHAT, params=signed_query(), data=big, may_drop=True)
    for extra in ({"encrypt_type": "aes", "msg_signature": "0" * 40}, {"encrypt_type": "AES"},
                  {"encrypt_type": "x" * 500}, {"echostr": "<script>alert(1)</script>"}):
        probe.send("wechat", "query", "POST", WECHAT, params={**signed_query(), **extra},
                   data=b"<xml><Encrypt><![CDATA[not base64 ###]]></Encrypt></xml>")
    probe.send("wechat", "query", "GET", WECHAT, params={**signed_query(), "echostr": "<script>alert(1)</script>"})
    probe.settle(before["db"], app_db[1])


def test_wechat_element_where_text_belongs(probe, before, app_db):
    """`<Content><a>1</a></Content>`, two `<Content>`s, an element as `ToUserName`: wechatpy hands
    these over as a dict or a list instead of a string."""
    for category, body in bad.odd_field_bodies(f"abuse_odd_{uuid.uuid4().hex[:6]}", next(_msg_ids)):
        probe.send("wechat", category, "POST", WECHAT, params=signed_query(), data=body,
                   headers={"Content-Type": "text/xml"})
    probe.settle(before["db"], app_db[1])


# --- copilot --------------------------------------------------------------------------------------

SUGGEST, FEEDBACK, CONVERSATIONS = "/webhooks/copilot/suggest", "/webhooks/copilot/feedback", \
    "/webhooks/copilot/conversations/"


def test_copilot_forged_tokens_are_refused_and_reveal_nothing(probe, before, app_db, assistant, kb):
    existing = f"abuse-copilot-{uuid.uuid4().hex[:8]}"
    assistant.say("个人备案要准备什么材料", existing)  # a conversation worth stealing
    forged = bad.forged_authorizations(probe.copilot_token, 120)
    assert len({json.dumps(h, sort_keys=True) for _, h in forged}) == len(forged) >= MIN_FORGED
    topic = kb.topics[0].id
    accepted, sizes = [], log_sizes()
    for i, (category, headers) in enumerate(forged):
        presented = headers.get("Authorization", "").partition(" ")[2]
        if len(presented) >= 12:
            FORGED_TOKENS.add(presented)
        method, path, body = [
            ("POST", SUGGEST, {"text": "订单 ICP2026112600412 手机 13900002222", "conversation_id": existing}),
            ("POST", FEEDBACK, {"topic": topic, "text": "有用 13900002222", "verdict": "used"}),
            ("GET", CONVERSATIONS + existing, None),
        ][i % 3]
        r = probe.send("copilot", category, method, path, headers=headers, json=body)
        if r is None:
            continue
        if r.status_code != 401 or any(k in r.text for k in ("intent", "turns", "candidates", "ICP2026", "材料")):
            accepted.append(f"{method} {path} {headers!r:.80} -> {r.status_code} {r.text[:80]!r}")
    bad.SENT_PHONES.add("13900002222")
    assert not accepted, f"{len(accepted)} forged token(s) got through:\n" + "\n".join(accepted[:20])
    # The logs are shared with any other server running now, so only this conversation is looked for;
    # the feedback table (compared below) shows no feedback got through.
    assert f"opened conversation {existing}" not in logged_since(sizes)
    r = probe.http.get(f"{probe.base}{CONVERSATIONS}{existing}", headers=copilot_auth(probe), timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["turns"], "the valid token must still work"
    assert f"opened conversation {existing}" in logged_since(sizes), "the log check above could not see it"
    probe.settle(before["db"], app_db[1])  # no feedback row from the forged requests


copilot_suggest_bodies = st.one_of(
    st.tuples(st.just("text"), bad.texts.map(lambda t: bad.dumps({"text": t}))),
    st.tuples(st.just("contact"), bad.contacts.map(lambda t: bad.dumps({"text": t}))),
    st.tuples(st.just("wrong_types"), st.builds(lambda t, c: bad.dumps({"text": t, "conversation_id": c}),
                                                bad.wrong_types, bad.wrong_types)),
    st.tuples(st.just("conversation_id"), st.builds(lambda c: bad.dumps({"text": "那公司呢?", "conversation_id": c}),
                                                    bad.texts)),
    st.tuples(st.just("malformed_json"), st.sampled_from(bad.MALFORMED_JSON)),
    st.tuples(st.just("wrong_types"), bad.json_values.map(bad.dumps)),
)


def invalid_feedback(kb):
    """Feedback bodies with at least one field wrong: none may be stored."""
    topics = [t.id for t in kb.topics]
    good_topic = st.sampled_from(topics)
    return st.one_of(
        st.builds(lambda t, x, v: {"topic": t, "text": x, "verdict": v}, good_topic, bad.texts,
                  st.one_of(bad.wrong_types, st.text(max_size=10).filter(lambda v: v not in ("used", "wrong")))),
        st.builds(lambda t, x: {"topic": "x-" + t, "text": x, "verdict": "used"}, st.text(max_size=20), bad.contacts),
        st.builds(lambda t, x: {"topic": t, "text": x, "verdict": "used"}, bad.wrong_types, bad.texts),
        st.builds(lambda t, x: {"topic": t, "text": x, "verdict": "wrong"}, good_topic,
                  st.one_of(bad.wrong_types, st.sampled_from(bad.WHITESPACE), st.just("长" * 2001))),
        st.builds(lambda t, c: {"topic": t, "text": "ok", "verdict": "used", "conversation_id": c}, good_topic,
                  st.one_of(st.integers(), st.lists(st.integers(), max_size=2), st.just(""), st.just("c" * 256))),
        bad.json_values.filter(lambda v: not isinstance(v, dict)),
    ).map(bad.dumps)


def test_copilot_bad_requests_with_a_valid_token(probe, before, app_db, kb):
    def suggest(example):
        category, body = example
        probe.send("copilot", category, "POST", SUGGEST, data=body,
                   headers={**copilot_auth(probe), "Content-Type": "application/json"})

    def feedback(body):
        r = probe.send("copilot", "feedback", "POST", FEEDBACK, data=body,
                       headers={**copilot_auth(probe), "Content-Type": "application/json"})
        if r is not None and r.status_code == 201:
            probe.problems.append(f"feedback stored from a bad body: {body[:100]!r}")

    def conversation(cid):
        path = CONVERSATIONS + (cid if cid.startswith("raw:") else quote(cid.encode("utf-8", "surrogatepass"), safe=""))
        probe.send("copilot", "conversation_id", "GET", path.replace("raw:", ""), headers=copilot_auth(probe))

    run(copilot_suggest_bodies, 120, suggest)
    run(invalid_feedback(kb), 60, feedback)
    run(st.one_of(bad.texts.filter(bool), st.sampled_from([
        "raw:../../../etc/passwd", "raw:..%2f..%2fetc%2fpasswd", "raw:%00", "raw:%ff%fe", "raw:%ED%A0%80",
        "raw:a%0d%0aSet-Cookie:x=1", "raw:" + "c" * 256, "raw:" + "c" * 5000, "raw:%25%25", "raw:*"])), 60,
        conversation)
    for path in ("/webhooks/copilot/..%2f..%2fcredentials.yml", "/webhooks/copilot/%2e%2e/endpoints.yml",
                 "/webhooks/copilot/copilot.js%00.html", "/webhooks/copilot/" + "a" * 3000,
                 "/webhooks/copilot/.env", "/webhooks/web/..%2f..%2fcredentials.yml", "/webhooks/web/%ff"):
        r = probe.send("copilot", "path", "GET", path)
        if r is not None and r.status_code == 200 and ("COPILOT" in r.text or "action_endpoint" in r.text):
            probe.problems.append(f"{path} served a config file")
    probe.send("copilot", "100kb", "POST", SUGGEST, data=bad.dumps({"text": bad.big_text(100)}),
               headers={**copilot_auth(probe), "Content-Type": "application/json"}, may_drop=True)
    probe.settle(before["db"], app_db[1])


# --- socket.io ------------------------------------------------------------------------------------

SIO = "/socket.io/"


class Polling:
    """A bare engine.io v4 polling session, to send packets no well-behaved client would."""

    def __init__(self, probe: Probe):
        self.probe = probe
        self.sid = None

    def open(self) -> bool:
        r = self.probe.http.get(f"{self.probe.base}{SIO}", params={"EIO": "4", "transport": "polling"},
                                timeout=TIMEOUT)
        if r.status_code != 200 or not r.text.startswith("0"):
            self.probe.problems.append(f"socket.io handshake: {r.status_code} {r.text[:80]!r}")
            return False
        self.sid = json.loads(r.text[1:])["sid"]
        self.post(b"40", "connect")
        return True

    def post(self, packet: bytes, category: str):
        if self.sid is None and not self.open():
            return None
        r = self.probe.send("socketio", category, "POST", SIO, data=packet,
                            params={"EIO": "4", "transport": "polling", "sid": self.sid},
                            headers={"Content-Type": "text/plain;charset=UTF-8"})
        if r is not None and r.status_code != 200:
            self.sid = None  # the server dropped the session: start a new one
        return r


def event(name: str, data) -> bytes:
    return ("42" + json.dumps([name, data])).encode("utf-8", "surrogatepass")


sio_packets = st.one_of(
    st.tuples(st.just("text"), st.builds(lambda t: event("user_uttered", {"message": t, "session_id": "abuse-sio"}),
                                         bad.texts)),
    st.tuples(st.just("contact"), st.builds(lambda t: event("user_uttered", {"message": t, "session_id": "abuse-sio"}),
                                            bad.contacts)),
    st.tuples(st.just("wrong_types"), st.builds(lambda d: event("user_uttered", d), bad.json_values)),
    st.tuples(st.just("wrong_types"), st.builds(lambda m, s: event("user_uttered", {"message": m, "session_id": s}),
                                                bad.wrong_types, bad.wrong_types.filter(bool))),
    st.tuples(st.just("wrong_metadata"), st.builds(
        lambda m: event("user_uttered", {"message": "你好", "session_id": "abuse-sio-meta", "metadata": m}),
        st.one_of(bad.json_values, st.sampled_from(["{not json", "[]", "null", bad.nested(5000)])))),
    st.tuples(st.just("session_request"), st.builds(lambda d: event("session_request", d), bad.json_values)),
    st.tuples(st.just("malformed_packet"), st.sampled_from([
        b"42", b"42[", b"42[]", b"42{}", b'42["user_uttered"]', b'42["unknown_event", 1]', b"4", b"9", b"",
        b"44", b"43", b"3", b"5",  # "1" (close), "6" and "2probe": see test_socketio_post_after_the_client_closed_its_session b'45-["user_uttered",{"_placeholder":true,"num":0}]',
        b"42" + bad.nested(10_000).encode(), b"42\xff\xfe", b"\xff\xfe\xfd", b"40/nonexistent,",
        b'42/admin,["user_uttered",{}]',
        b'4\x1e42["user_uttered",{"message":"hi","session_id":"abuse-sio"}]\x1e\x1e',
    ])),
    st.tuples(st.just("malformed_packet"), st.binary(max_size=100).map(lambda b: b"42" + b)),
)


def test_socketio_bad_packets_and_events(probe, before, app_db):
    session = Polling(probe)
    session.open()
    session.post(event("session_request", {"session_id": "abuse-sio"}), "session_request")
    sent = Counter()

    def check(example):
        category, packet = example
        sent[category] += 1
        if sent[category] % 40 == 0:  # fresh sessions: never near engine.io's ping timeout
            session.sid = None
        session.post(packet, category)

    run(sio_packets, 200, check)
    session.post(event("user_uttered", {"message": bad.big_text(100), "session_id": "abuse-sio"}), "100kb")
    for params in ({"EIO": "3", "transport": "polling"}, {"EIO": "abc", "transport": "polling"},
                   {"EIO": "4", "transport": "carrier-pigeon"}, {"EIO": "4", "transport": "polling", "sid": "forged"},
                   {"EIO": "4", "transport": "websocket"}, {}, {"EIO": "4" * 1000, "transport": "polling", "t": "\x00"}):
        probe.send("socketio", "handshake", "GET", SIO, params=params)
        probe.send("socketio", "handshake", "POST", SIO, params=params, data=b"40")
    time.sleep(2)  # let the turns the events started finish before the database is compared
    probe.settle(before["db"], app_db[1])
    assert socketio_answers(probe.base), "the socket.io channel stopped answering after the bad packets"
    # The conversations the bad events were aimed at still work.
    assert socketio_answers(probe.base, "abuse-sio-meta") and socketio_answers(probe.base, "abuse-sio")


def test_socketio_post_after_the_client_closed_its_session(probe, before, app_db):
    session = Polling(probe)
    assert session.open()
    sid = session.sid
    session.post(b"1", "malformed_packet")
    session.sid = sid
    session.post(event("user_uttered", {"message": "你好", "session_id": "abuse-sio-closed"}), "malformed_packet")
    probe.settle(before["db"], app_db[1])


@pytest.mark.parametrize("metadata", [1.5, [1, 2], True, "not json", "[" * 5000])
def test_socketio_message_with_non_object_metadata_is_still_answered(probe, metadata):
    assert socketio_answers(probe.base, metadata=metadata)


def socketio_answers(base: str, session_id: str | None = None, timeout: float = 60, **extra) -> bool:
    """A real python-socketio client (polling over requests) still gets an answer."""
    import socketio

    got = threading.Event()
    client = socketio.Client(reconnection=False)
    session_id = session_id or f"abuse-sio-check-{uuid.uuid4().hex[:6]}"
    client.on("session_confirm", lambda *_: client.emit(
        "user_uttered", {"message": "你好", "session_id": session_id, **extra}))
    client.on("bot_uttered", lambda *_: got.set())
    client.connect(base, transports=["polling"], wait_timeout=TIMEOUT)
    try:
        client.emit("session_request", {"session_id": session_id})
        return got.wait(timeout)
    finally:
        client.disconnect()


# --- the totals, and what the logs say ---------------------------------------------------------------

def test_zz_every_entry_point_got_bad_input_and_the_logs_hold_no_secrets(probe, before):
    per_entry = Counter()
    for (entry, _), n in COUNTS.items():
        per_entry[entry] += n
    total = sum(per_entry.values())
    print(f"\nbad inputs: {total} — " + ", ".join(f"{e}: {n}" for e, n in sorted(per_entry.items())))
    for (entry, category), n in sorted(COUNTS.items()):
        print(f"  {entry:9} {category:18} {n}")
    for entry in sorted(per_entry):
        print(f"  {entry} responses: " + ", ".join(f"{status}: {n}" for (e, status), n in sorted(
            STATUSES.items(), key=str) if e == entry))
    print(f"  phone numbers sent: {len(bad.SENT_PHONES)}, e-mail addresses: {len(bad.SENT_EMAILS)}, "
          f"forged tokens looked for in the logs: {len(FORGED_TOKENS)}")
    if {"rest", "wechat", "copilot", "socketio"} - set(per_entry):
        pytest.skip("only part of the file ran")
    assert total >= MIN_TOTAL
    assert sum(n for (e, c), n in COUNTS.items() if e == "wechat" and c.startswith("sig_")) >= 2 * MIN_FORGED
    assert sum(n for (e, c), n in COUNTS.items() if e == "copilot" and c == "token_forged") >= MIN_FORGED

    time.sleep(1)  # the servers flush their log lines
    whole, fresh = "", ""
    for path in sorted(LOGS.glob("*.log")):
        data = path.read_bytes()
        whole += data.decode("utf-8", "replace")
        fresh += data[before["log_offsets"].get(path.name, 0):].decode("utf-8", "replace")
    leaks = [f"token {t[:6]}…" for t in {probe.copilot_token, WECHAT_TOKEN} if t in whole]
    leaks += [f"forged token {t[:6]}…" for t in FORGED_TOKENS if t in fresh]
    low = fresh.lower()
    assert bad.SENT_PHONES and bad.SENT_EMAILS
    # The right logs are read: the WeChat channel logs messages, with the numbers masked.
    assert any(f"{p[:3]}****{p[-4:]}" in fresh for p in bad.SENT_PHONES), f"no masked phone number in {LOGS}"
    leaks += [f"phone {p}" for p in sorted(bad.SENT_PHONES) if p in fresh]
    leaks += [f"e-mail {e}" for e in sorted(bad.SENT_EMAILS) if e in low]
    assert not leaks, f"the logs under {LOGS} carry: {leaks[:20]}"
