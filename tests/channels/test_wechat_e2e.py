"""The WeChat bridge end to end: real Rasa servers with the trained model and the real action server,
a fake WeChat API (token + customer-service messages, conftest.py) on 127.0.0.1, and requests signed
(and in safe mode encrypted) the way WeChat's servers send them.

Two Rasa servers share one action server: one with the normal passive budget (answers come back in
the HTTP response) and one with a 1 ms budget (every answer falls back to the customer-service
API). They load in parallel, so the pair costs about as much time as one. They share one tracker
store (a SQLite file here, PostgreSQL in production) and, with Redis reachable, REDIS_URL (Rasa's lock
store and the bridge's state): two replicas, so a MsgId sent to both is processed once.
"""
from __future__ import annotations

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import xmltodict
from wechatpy.crypto import WeChatCrypto

from bot import serve
from bot.channels.wechat import NON_TEXT_REPLY, OPTIONS_HEADER, sign, to_plain
from bot.config import ROOT
from bot.serve import free_port

pytestmark = pytest.mark.e2e

MODEL = ROOT / "models" / "current.tar.gz"
TOKEN = "e2e-token"
APP_ID = "wx0123456789abcdef"  # what the fake WeChat (conftest.py) accepts
APP_SECRET = "e2e-secret"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aQ"
QUESTION = "个人备案要准备什么材料"
RAW_MARKDOWN = re.compile(r"\*\*|^\s*[-*]\s|^\s*\d+(?:[.)]\s|、)|\]\(http", re.M)


# --- servers ----------------------------------------------------------------------------------------


def write_credentials(path: Path, api_base: str, **extra) -> Path:
    lines = ["bot.channels.rest.CheckedRestInput:", "bot.channels.wechat.WeChatInput:",
             f'  token: "{TOKEN}"', f'  app_id: "{APP_ID}"', f'  app_secret: "{APP_SECRET}"',
             f'  aes_key: "{AES_KEY}"', f'  api_base: "{api_base}"', "  accept_plaintext: true"]
    lines += [f"  {k}: {v}" for k, v in extra.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


class Rasa:
    def __init__(self, base: str):
        self.base = base
        self.url = f"{base}/webhooks/wechat/webhook"

    def user_turns(self, sender: str) -> list[str]:
        r = requests.get(f"{self.base}/conversations/{sender}/tracker", timeout=10)
        assert r.status_code == 200, r.text
        return [e.get("text") for e in r.json().get("events", []) if e.get("event") == "user"]

    def warm(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r = requests.post(f"{self.base}/webhooks/rest/webhook",
                              json={"sender": f"warm-{uuid.uuid4().hex[:6]}", "message": "你好"}, timeout=30)
            if r.status_code == 200 and r.json():
                return
            time.sleep(1)
        pytest.fail(f"{self.base} never answered")


@pytest.fixture(scope="module")
def servers(tmp_path_factory, fake, shared_redis):
    """(normal, slow): two Rasa servers with the wechat channel, one action server."""
    if not MODEL.exists():
        pytest.fail(f"{MODEL} missing: run `make test` (it trains first)")
    from bot.storage.orders_csv import create_demo_database

    work = tmp_path_factory.mktemp("wechat")
    db = f"sqlite:///{work / 'app.db'}"
    assert create_demo_database(db).ok

    actions_port, normal_port, slow_port = free_port(), free_port(), free_port()
    env = {"RASA_ENDPOINTS": str(serve.endpoints_file(work, actions_port)), "DATABASE_URL": db, "SERVICE_HOURS": "00:00-23:59"}
    env["TRACKER_STORE_URL"] = f"sqlite:///{work / 'tracker.db'}"
    if shared_redis is not None:
        env.update(REDIS_URL=shared_redis[0], WECHAT_REDIS_PREFIX=shared_redis[1])
    normal_creds = write_credentials(work / "credentials.yml", fake.base)
    # 1 ms: shorter than any FAQ turn (NLU + a round trip to the action server, ~30 ms)
    slow_creds = write_credentials(work / "credentials-slow.yml", fake.base, passive_budget=0.001)
    logs = ROOT / "artifacts" / "wechat"
    processes = [serve.start_actions(actions_port, env, logs)]
    try:
        processes.append(serve.start_rasa(MODEL, normal_port, {**env, "RASA_CREDENTIALS": str(normal_creds)}, logs))
        processes.append(serve.start_rasa(MODEL, slow_port, {**env, "RASA_CREDENTIALS": str(slow_creds)}, logs / "slow"))
        up = (serve.wait_http(f"http://127.0.0.1:{actions_port}/health", 120)
              and serve.wait_http(f"http://127.0.0.1:{normal_port}/status", 240)
              and serve.wait_http(f"http://127.0.0.1:{slow_port}/status", 240))
        if not up:
            pytest.fail(f"servers did not start; see {logs}")
        normal, slow = Rasa(f"http://127.0.0.1:{normal_port}"), Rasa(f"http://127.0.0.1:{slow_port}")
        normal.warm()
        slow.warm()
        yield normal, slow
    finally:
        serve.stop(processes)


@pytest.fixture
def rasa(servers):
    return servers[0]


@pytest.fixture
def slow(servers):
    return servers[1]


# --- what WeChat sends ------------------------------------------------------------------------------


def openid() -> str:
    return "o" + uuid.uuid4().hex[:27]


def message_xml(sender: str, content: str = QUESTION, msg_id: int | None = None, msg_type: str = "text") -> str:
    msg_id = msg_id or int(uuid.uuid4().int % 10**18)
    body = (f"<Content><![CDATA[{content}]]></Content>" if msg_type == "text"
            else "<PicUrl><![CDATA[http://example.com/a.jpg]]></PicUrl><MediaId><![CDATA[m1]]></MediaId>")
    return (f"<xml><ToUserName><![CDATA[gh_beian]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
            f"{body}<MsgId>{msg_id}</MsgId></xml>")


def signed_query(timestamp: int | None = None, token: str = TOKEN) -> dict:
    ts, nonce = str(timestamp or int(time.time())), uuid.uuid4().hex[:10]
    return {"timestamp": ts, "nonce": nonce, "signature": sign(token, ts, nonce)}


def post_plain(url: str, xml: str | bytes, query: dict | None = None, **kwargs) -> requests.Response:
    data = xml.encode() if isinstance(xml, str) else xml
    return requests.post(url, params=query or signed_query(), data=data,
                         headers={"Content-Type": "text/xml"}, timeout=30, **kwargs)


def reply_content(r: requests.Response) -> str:
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/xml"), r.text
    reply = xmltodict.parse(r.text)["xml"]
    assert reply["MsgType"] == "text"
    return reply["Content"]


def crypto() -> WeChatCrypto:
    return WeChatCrypto(TOKEN, AES_KEY, APP_ID)


def post_encrypted(url: str, xml: str, msg_signature: str | None = None) -> requests.Response:
    query = signed_query()
    envelope = xmltodict.parse(crypto().encrypt_message(xml, query["nonce"], query["timestamp"]))["xml"]
    query.update(encrypt_type="aes", msg_signature=msg_signature or envelope["MsgSignature"])
    body = f"<xml><ToUserName><![CDATA[gh_beian]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    return requests.post(url, params=query, data=body.encode(), timeout=30)


# --- verification and refusals ---------------------------------------------------------------------


def test_url_verification_echoes_echostr(rasa):
    query = {**signed_query(), "echostr": "8827364512"}
    r = requests.get(rasa.url, params=query, timeout=10)
    assert r.status_code == 200 and r.text == "8827364512"
    forged = {**query, "signature": "0" * 40}
    assert requests.get(rasa.url, params=forged, timeout=10).status_code == 403


def test_forged_signature_is_refused_and_never_reaches_rasa(rasa):
    sender = openid()
    r = post_plain(rasa.url, message_xml(sender), {**signed_query(), "signature": sign("guessed", "1", "2")})
    assert r.status_code == 403
    r = post_plain(rasa.url, message_xml(sender), signed_query(token="another-account"))
    assert r.status_code == 403
    assert rasa.user_turns(sender) == []


def test_stale_timestamp_is_refused(rasa):
    sender = openid()
    r = post_plain(rasa.url, message_xml(sender), signed_query(timestamp=int(time.time()) - 301))
    assert r.status_code == 403
    assert rasa.user_turns(sender) == []


@pytest.mark.parametrize("body", [
    "<xml><ToUserName>gh</ToUserName><FromUserName>oX</FromUserName><MsgType>text",  # truncated
    "这不是XML",
    "",
])
def test_malformed_xml_is_a_400(rasa, body):
    assert post_plain(rasa.url, body).status_code == 400


def test_doctype_is_refused(rasa):
    sender = openid()
    xml = '<!DOCTYPE xml [<!ENTITY q "个人备案要准备什么材料">]>' + message_xml(sender, "&q;")
    assert post_plain(rasa.url, xml).status_code == 400
    assert rasa.user_turns(sender) == []


def test_oversized_body_is_a_413(rasa):
    sender = openid()
    xml = message_xml(sender, "备" * 30_000)  # 90 KB of UTF-8
    assert post_plain(rasa.url, xml).status_code == 413
    # also without a Content-Length (chunked): cut off while reading
    chunks = (xml.encode()[i:i + 8192] for i in range(0, len(xml.encode()), 8192))
    assert post_plain(rasa.url, chunks).status_code == 413
    assert rasa.user_turns(sender) == []
    assert requests.get(f"{rasa.base}/status", timeout=10).status_code == 200


def test_encrypted_message_with_a_bad_msg_signature_is_refused(rasa):
    sender = openid()
    r = post_encrypted(rasa.url, message_xml(sender), msg_signature="0" * 40)
    assert r.status_code == 403
    assert rasa.user_turns(sender) == []


# --- conversations ---------------------------------------------------------------------------------


def test_plain_text_round_trip(rasa, kb):
    sender = openid()
    r = post_plain(rasa.url, message_xml(sender))
    reply = xmltodict.parse(r.text)["xml"]
    assert (reply["ToUserName"], reply["FromUserName"]) == (sender, "gh_beian")
    content = reply_content(r)
    assert "身份证" in content and "**" not in content
    assert OPTIONS_HEADER in content
    first_related = kb.get(kb.get("materials_individual").related[0])
    # plain text (• and ①②③; every answer's rendering is checked in tests/unit/test_render.py). The
    # answer's wording comes from the trained model, which may trail faq/, so only its form is checked.
    assert "• " in content and not RAW_MARKDOWN.search(content)
    assert f"\n{OPTIONS_HEADER}\n【1】{to_plain(first_related.question)}" in content
    assert rasa.user_turns(sender) == [QUESTION]


def test_answering_with_a_number_sends_that_buttons_payload(rasa, kb):
    sender = openid()
    reply_content(post_plain(rasa.url, message_xml(sender)))
    first_related = kb.get(kb.get("materials_individual").related[0])
    answer = reply_content(post_plain(rasa.url, message_xml(sender, "1")))
    assert not RAW_MARKDOWN.search(answer) and f"\n{OPTIONS_HEADER}\n【1】" in answer
    assert rasa.user_turns(sender)[-1] == '/faq{"faq_topic": "%s"}' % first_related.id


def test_aes_safe_mode_round_trip(rasa):
    sender = openid()
    r = post_encrypted(rasa.url, message_xml(sender))
    assert r.status_code == 200, r.text
    envelope = xmltodict.parse(r.text)["xml"]
    assert set(envelope) >= {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert "身份证" not in r.text  # the answer travels encrypted
    inner = crypto().decrypt_message(r.text, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
    reply = xmltodict.parse(inner)["xml"]
    assert reply["ToUserName"] == sender and "身份证" in reply["Content"]


def test_non_text_message_gets_a_polite_reply(rasa):
    sender = openid()
    assert reply_content(post_plain(rasa.url, message_xml(sender, msg_type="image"))) == NON_TEXT_REPLY
    assert rasa.user_turns(sender) == []


def test_subscribe_sends_the_welcome(rasa):
    sender = openid()
    xml = (f"<xml><ToUserName>gh_beian</ToUserName><FromUserName>{sender}</FromUserName>"
           f"<CreateTime>{int(time.time())}</CreateTime><MsgType>event</MsgType><Event>subscribe</Event></xml>")
    assert "备案助手" in reply_content(post_plain(rasa.url, xml))
    unsubscribe = xml.replace("<Event>subscribe</Event>", "<Event>unsubscribe</Event>")
    r = post_plain(rasa.url, unsubscribe)
    assert r.status_code == 200 and r.text == "success"


def test_retried_msgid_is_processed_once(rasa):
    sender, msg_id = openid(), int(time.time() * 1000)
    xml = message_xml(sender, msg_id=msg_id)
    with ThreadPoolExecutor(3) as pool:  # WeChat's retries can overlap the first request
        replies = list(pool.map(lambda _: reply_content(post_plain(rasa.url, xml)), range(3)))
    replies.append(reply_content(post_plain(rasa.url, xml)))  # and come after it
    assert len(set(replies)) == 1 and "身份证" in replies[0]
    assert rasa.user_turns(sender) == [QUESTION]


# --- the customer-service API fallback ---------------------------------------------------------------


def test_slow_turn_answers_success_then_delivers_through_the_api(slow, fake):
    sender, msg_id = openid(), int(time.time() * 1000) + 1
    xml = message_xml(sender, msg_id=msg_id)
    r = post_plain(slow.url, xml)
    assert r.status_code == 200 and r.text == "success"
    sent = fake.wait_sent(sender)
    assert len(sent) == 1, sent
    body = sent[0]["body"]
    assert body["msgtype"] == "text" and "身份证" in body["text"]["content"]
    assert "身份证".encode() in sent[0]["raw"]  # UTF-8, not \u escapes (WeChat would show those)
    assert sent[0]["token"] in fake.tokens_issued
    # WeChat retrying the same message gets "success" again, and nothing is sent twice
    r = post_plain(slow.url, xml)
    assert r.status_code == 200 and r.text == "success"
    time.sleep(0.5)
    assert len(fake.sent_to(sender)) == 1
    assert slow.user_turns(sender) == [QUESTION]


def test_token_is_cached_and_refreshed_after_40001(slow, fake):
    sender = openid()
    assert post_plain(slow.url, message_xml(sender, "备案号怎么挂到网站底部")).text == "success"
    assert fake.wait_sent(sender)
    issued = len(fake.tokens_issued)
    assert post_plain(slow.url, message_xml(sender, "管局审核一般要几个工作日")).text == "success"
    assert len(fake.wait_sent(sender, 2)) == 2
    assert len(fake.tokens_issued) == issued  # cached: no new token for the second message

    fake.expire_token()
    rejected = len(fake.rejected)
    assert post_plain(slow.url, message_xml(sender, QUESTION)).text == "success"
    sent = fake.wait_sent(sender, 3)
    assert len(sent) == 3 and "身份证" in sent[2]["body"]["text"]["content"]
    assert len(fake.rejected) == rejected + 1  # one 40001 …
    assert len(fake.tokens_issued) == issued + 1  # … one refresh …
    assert sent[2]["token"] == fake.tokens_issued[-1]  # … and the retry used the new token


# --- two replicas sharing Redis ------------------------------------------------------------------------


@pytest.fixture
def replicas(servers, shared_redis):
    if shared_redis is None:
        pytest.skip("Redis unreachable: the servers run with in-process state")
    return servers


def test_a_msgid_sent_to_two_replicas_at_once_is_processed_once(replicas, fake):
    """WeChat's first delivery and its retries land on different replicas at the same moment."""
    normal, slow = replicas
    sender, msg_id = openid(), int(time.time() * 1000) + 7
    xml = message_xml(sender, msg_id=msg_id)
    targets = [normal.url, slow.url, normal.url, slow.url]
    with ThreadPoolExecutor(len(targets)) as pool:
        responses = list(pool.map(lambda url: post_plain(url, xml), targets))
    assert normal.user_turns(sender) == [QUESTION]  # exactly one Rasa turn, on whichever replica won
    # The normal replica's requests wait (4 s) and answer passively with the one answer, whichever
    # replica ran the turn; the slow replica's (1 ms) say "success" and leave it to them.
    # (a slow-replica request that arrives after the turn ended gets the same answer passively).
    contents = [r.text if r.text == "success" else reply_content(r) for r in responses]
    answers = set(contents) - {"success"}
    assert len(answers) == 1 and "身份证" in next(iter(answers))
    assert "success" not in contents[0::2]
    # a later retry on the slow replica gets the same answer from Redis, and the API sends nothing
    assert reply_content(post_plain(slow.url, xml)) in answers
    time.sleep(0.5)
    assert fake.sent_to(sender) == []
    assert slow.user_turns(sender) == [QUESTION]


def test_an_answer_sent_through_the_api_is_not_repeated_by_another_replica(replicas, fake):
    normal, slow = replicas
    sender, msg_id = openid(), int(time.time() * 1000) + 8
    xml = message_xml(sender, msg_id=msg_id)
    assert post_plain(slow.url, xml).text == "success"
    assert len(fake.wait_sent(sender)) == 1
    r = post_plain(normal.url, xml)  # WeChat's retry reaches the other replica
    assert r.status_code == 200 and r.text == "success"
    time.sleep(0.5)
    assert len(fake.sent_to(sender)) == 1
    assert normal.user_turns(sender) == [QUESTION]


def test_numbered_options_work_across_replicas(replicas, kb):
    normal, slow = replicas
    sender = openid()
    reply_content(post_plain(normal.url, message_xml(sender)))
    first_related = kb.get(kb.get("materials_individual").related[0])
    r = post_plain(slow.url, message_xml(sender, "1"))  # the number reaches the other replica
    assert r.text == "success"
    assert slow.user_turns(sender) == [QUESTION, '/faq{"faq_topic": "%s"}' % first_related.id]
