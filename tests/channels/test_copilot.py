"""The agents' copilot end to end: a real Rasa server (trained model, REST + copilot channels) and the
real action server on loopback, a fresh SQLite app database migrated to head with the demo orders,
and agents' requests as the copilot page sends them (bearer token, JSON).

Also, without servers: the pure pieces (tokens, request checks, candidates), a failing database,
and the migration that adds `suggestion_feedback`.
"""
from __future__ import annotations

import csv
import hashlib
import json
import random
import secrets
import string
import time
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from bot import shapes
from bot.channels.auth import TokenChecker, bearer_token, fingerprint, parse_tokens
from bot.channels.copilot import CopilotConfig, lookup_order
from bot.channels.copilot_views import MAX_TEXT_CHARS, candidates, feedback_problem, suggest_problem
from bot.channels.render import to_plain
from bot.config import ROOT
from bot.order_status import STATUS_TEXTS
from bot.storage.db import current_revision, downgrade, make_engine, migrate, session_scope
from bot.storage.feedback import SuggestionFeedback

e2e = pytest.mark.e2e  # the tests that use the servers; the rest run without them

MODEL = ROOT / "models" / "current.tar.gz"
DEMO = ROOT / "data" / "demo" / "orders.csv"
LOGS = ROOT / "artifacts" / "copilot"
QUESTION = "个人备案要准备什么材料"
# Fresh per run: the log file is appended to across runs, and the token must never appear in it.
TOKEN = f"cop-{secrets.token_urlsafe(24)}"
OTHER_TOKEN = f"cop-{secrets.token_urlsafe(24)}"


def demo_orders() -> dict[str, dict]:
    with DEMO.open(encoding="utf-8", newline="") as f:
        return {row["order_no"]: row for row in csv.DictReader(f)}


# --- servers ----------------------------------------------------------------------------------------


class Copilot:
    """The running servers as an agent (and a customer on REST) reach them."""

    def __init__(self, base: str, db_url: str, log: Path):
        self.base, self.db_url, self.log = base, db_url, log

    def url(self, path: str) -> str:
        return f"{self.base}/webhooks/copilot/{path.lstrip('/')}"

    def post(self, path: str, body=None, token: str | None = TOKEN, data: bytes | str | None = None,
             headers: dict | None = None) -> requests.Response:
        headers = dict(headers or {})
        if token is not None:
            headers.setdefault("Authorization", f"Bearer {token}")
        if data is None:
            return requests.post(self.url(path), json=body, headers=headers, timeout=30)
        headers.setdefault("Content-Type", "application/json")
        return requests.post(self.url(path), data=data, headers=headers, timeout=30)

    def get(self, path: str, token: str | None = TOKEN, headers: dict | None = None) -> requests.Response:
        headers = dict(headers or {})
        if token is not None:
            headers.setdefault("Authorization", f"Bearer {token}")
        return requests.get(self.url(path), headers=headers, timeout=30)

    def suggest(self, text: str, **extra) -> dict:
        r = self.post("suggest", {"text": text, **extra})
        assert r.status_code == 200, r.text
        return r.json()

    def say(self, sender: str, text: str) -> list:
        r = requests.post(f"{self.base}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                          timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, offset: int, expect: str, timeout: float = 5.0) -> str:
        """The log written after `offset`, once it contains `expect` (or after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.log.open("rb") as f:
                f.seek(offset)
                text = f.read().decode("utf-8", "replace")
            if expect in text or time.monotonic() > deadline:
                return text
            time.sleep(0.1)


@pytest.fixture(scope="module")
def copilot(tmp_path_factory) -> Copilot:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} missing: run `make test` (it trains first)")
    credentials = tmp_path_factory.mktemp("copilot") / "credentials.yml"
    credentials.write_text("bot.channels.rest.CheckedRestInput:\nbot.channels.copilot.CopilotInput:\n")
    env = {"RASA_CREDENTIALS": str(credentials), "COPILOT_TOKENS": f" {TOKEN} , {OTHER_TOKEN} ,"}
    with shapes.started("embedded", model=MODEL, env=env, log_dir=LOGS) as running:
        server = Copilot(running.base, running.database_url, LOGS / "rasa.log")
        deadline = time.monotonic() + 60
        while not server.say(f"warm-{uuid.uuid4().hex[:6]}", "你好"):  # loads the lazy parts of both servers
            if time.monotonic() > deadline:
                pytest.fail("the assistant never answered")
            time.sleep(1)
        yield server


# --- authentication -------------------------------------------------------------------------------


@e2e
def test_every_endpoint_refuses_a_request_without_a_token(copilot):
    answers = [copilot.post("suggest", {"text": QUESTION}, token=None),
               copilot.get("conversations/whoever", token=None),
               copilot.post("feedback", {"topic": "materials_individual", "text": QUESTION, "verdict": "used"},
                            token=None),
               copilot.post("suggest", {"text": QUESTION}, token=None, headers={"Authorization": "Bearer "})]
    for r in answers:
        assert r.status_code == 401, r.text
        assert "token" in r.json()["error"]
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def forged_tokens() -> list[str]:
    """50 authorization headers that must all fail: random tokens, near misses of the real one,
    the wrong scheme, the whole COPILOT_TOKENS string, the fingerprint."""
    rng = random.Random(4)
    near = [TOKEN[:-1], TOKEN + "x", TOKEN[1:], TOKEN.upper(), TOKEN[::-1], TOKEN[:-1] + ("A" if TOKEN[-1] != "A" else "B"),
            f"{TOKEN},{OTHER_TOKEN}", f"{TOKEN} {OTHER_TOKEN}", fingerprint(TOKEN),
            hashlib.sha256(TOKEN.encode()).hexdigest(), TOKEN[:8], "cop-", "*", "null", "%s" % TOKEN.encode()]
    headers = [f"Bearer {t}" for t in near]
    headers += [f"Basic {TOKEN}", TOKEN, f"Token {TOKEN}", f"Bearer{TOKEN}"]
    alphabet = string.ascii_letters + string.digits + "-_"
    while len(headers) < 50:
        length = rng.choice([1, 8, 16, 32, len(TOKEN), 64, 200])
        headers.append("Bearer " + "".join(rng.choice(alphabet) for _ in range(length)))
    return headers


@e2e
def test_forged_tokens_are_all_refused_and_the_real_ones_accepted(copilot):
    headers = forged_tokens()
    assert len(headers) == 50 and len(set(headers)) == 50
    refused = sum(copilot.post("suggest", {"text": QUESTION}, token=None,
                               headers={"Authorization": h}).status_code == 401 for h in headers)
    assert refused == len(headers)  # 100 %
    for token in (TOKEN, OTHER_TOKEN):
        assert copilot.post("suggest", {"text": QUESTION}, token=token).status_code == 200
    # The scheme is case-insensitive, as RFC 7235 says.
    assert copilot.post("suggest", {"text": QUESTION}, token=None,
                        headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200


# --- suggestions ----------------------------------------------------------------------------------


@e2e
def test_suggest_puts_the_right_topic_first_with_its_answer(copilot):
    out = copilot.suggest(QUESTION)
    assert out["intent"]["name"] == "faq" and 0 < out["intent"]["confidence"] <= 1
    found = out["candidates"]
    assert 3 <= len(found) <= 5
    assert found[0]["topic"] == "materials_individual"
    assert "身份证" in found[0]["answer"] and found[0]["question"]
    # the markdown for the page to render, and the plain text (as WeChat shows it) for 复制答案
    assert found[0]["answer_plain"] == to_plain(found[0]["answer"]) and "**" not in found[0]["answer_plain"]
    confidences = [c["confidence"] for c in found]
    assert confidences == sorted(confidences, reverse=True)
    assert len({c["topic"] for c in found}) == len(found)
    assert out["order"] is None and out["entities"] == [] and out["conversation_id"] is None


@e2e
def test_suggest_never_touches_a_conversation(copilot):
    sender = f"cp-{uuid.uuid4().hex[:8]}"
    copilot.suggest(QUESTION, conversation_id=sender)
    assert copilot.get(f"conversations/{sender}").status_code == 404
    tracker = requests.get(f"{copilot.base}/conversations/{sender}/tracker", timeout=10).json()
    assert not [e for e in tracker.get("events") or [] if e.get("event") == "user"]


@e2e
def test_suggest_with_an_order_number_gives_its_status_and_logs_the_agent(copilot):
    orders = demo_orders()
    order_no = "ICP2026110400318"  # approved, with an ICP number
    row = orders[order_no]
    offset = copilot.log_size()
    out = copilot.suggest(f"客户问订单 {order_no} 现在到哪一步了")
    assert {"entity": "order_id", "value": order_no} in [{k: e[k] for k in ("entity", "value")}
                                                          for e in out["entities"]]
    order = out["order"]
    assert order["order_no"] == order_no
    assert order["status"] == row["status"] == "approved"
    assert order["status_label"] == STATUS_TEXTS["approved"].label
    assert order["status_detail"] == row["status_detail"]
    assert order["icp_number"] == row["icp_number"]
    assert "phone" not in order and "subject_name" not in order

    log = copilot.log_since(offset, order_no)
    lines = [line for line in log.splitlines() if order_no in line and "copilot" in line]
    assert lines and fingerprint(TOKEN) in lines[0], log[-2000:]
    full_log = copilot.log.read_text(encoding="utf-8", errors="replace")
    assert TOKEN not in full_log and OTHER_TOKEN not in full_log

    # The other agent's lookups carry the other fingerprint; a rejected order's reason comes along.
    offset = copilot.log_size()
    r = copilot.post("suggest", {"text": "20261118-3306 这个单子为什么被退回"}, token=OTHER_TOKEN)
    assert r.status_code == 200, r.text
    rejected = r.json()["order"]
    assert rejected["status"] == "provider_rejected" and "身份证" in rejected["status_detail"]
    assert fingerprint(OTHER_TOKEN) in copilot.log_since(offset, "20261118-3306")


@e2e
def test_an_unknown_order_number_says_not_found(copilot):
    out = copilot.suggest("订单 ICP2026010100001 怎么样了")
    assert out["order"] == {"order_no": "ICP2026010100001", "error": "not_found"}


@pytest.mark.parametrize("data, why", [
    (b"{not json", "the body is not valid UTF-8 JSON"),
    (b"\xff\xfe{}", "the body is not valid UTF-8 JSON"),
    (b"", "the body must be a JSON object"),
    (b"[]", "the body must be a JSON object"),
    (b"\"text\"", "the body must be a JSON object"),
    (b"{}", "\"text\" is required"),
    (b"{\"conversation_id\": \"x\"}", "\"text\" is required"),
    (b"{\"text\": 5}", "\"text\" must be a string"),
    (b"{\"text\": null}", "\"text\" must be a string"),
    (b"{\"text\": [\"a\"]}", "\"text\" must be a string"),
    (b"{\"text\": \"   \"}", "\"text\" must not be empty"),
    (json.dumps({"text": "备" * (MAX_TEXT_CHARS + 1)}).encode(), f"longer than {MAX_TEXT_CHARS}"),
    (json.dumps({"text": "备案" * 5_000}, ensure_ascii=False).encode(), f"longer than {MAX_TEXT_CHARS}"),
    (b"{\"text\": \"hi\", \"conversation_id\": 5}", "\"conversation_id\" must be a string"),
    (b"{\"text\": \"hi\", \"conversation_id\": \"\"}", "\"conversation_id\" must be a string"),
], ids=["malformed", "not-utf8", "empty", "list", "string", "no-text", "only-id", "text-int", "text-null",
        "text-list", "text-blank", "text-2001", "text-10000", "id-int", "id-empty"])
@e2e
def test_bad_suggest_requests_get_400_with_the_reason(copilot, data, why):
    r = copilot.post("suggest", data=data)
    assert r.status_code == 400, r.text
    assert why in r.json()["error"]


@e2e
def test_oversized_bodies_get_413_and_odd_texts_still_get_suggestions(copilot):
    r = copilot.post("suggest", data=json.dumps({"text": "a", "pad": "x" * 70_000}))
    assert r.status_code == 413, r.text
    # Texts that look like Rasa's "/intent{…}" payloads, or are only symbols, are just texts here.
    for text in ("/", "/faq{", "/faq{\"faq_topic\": 5}", "😀😀", "<script>alert(1)</script>", "备" * MAX_TEXT_CHARS):
        r = copilot.post("suggest", {"text": text})
        assert r.status_code == 200, (text, r.text)
        assert isinstance(r.json()["candidates"], list)


# --- transcripts ----------------------------------------------------------------------------------


@e2e
def test_transcript_of_a_rest_conversation_lists_the_user_turns_with_intents(copilot):
    sender = f"cust-{uuid.uuid4().hex[:8]}"
    copilot.say(sender, "你好")
    copilot.say(sender, QUESTION)
    r = copilot.get(f"conversations/{sender}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["conversation_id"] == sender
    turns = body["turns"]
    users = [t for t in turns if t["who"] == "user"]
    assert [t["text"] for t in users] == ["你好", QUESTION]
    assert [t["intent"] for t in users] == ["greet", "faq"]
    assert all(0 < t["confidence"] <= 1 for t in users)
    assert users[1]["faq_topic"]["topic"] == "materials_individual"
    bots = [t for t in turns if t["who"] == "bot"]
    assert any("身份证" in t["text"] for t in bots)
    assert turns[0]["who"] == "user" and all(t["time"] and t["time"].endswith("+08:00") for t in turns)

    # An agent taking over sees the follow-up the way the conversation means it.
    out = copilot.suggest("那公司呢？", conversation_id=sender)
    assert out["candidates"][0]["topic"] == "materials_company"
    assert 3 <= len(out["candidates"]) <= 5


@e2e
def test_an_unknown_conversation_is_404_and_an_overlong_id_400(copilot):
    r = copilot.get(f"conversations/nobody-{uuid.uuid4().hex}")
    assert r.status_code == 404 and r.json()["error"]
    assert copilot.get("conversations/" + "x" * 300).status_code == 400


# --- feedback -------------------------------------------------------------------------------------


@e2e
def test_feedback_is_stored_with_the_agent_fingerprint(copilot):
    conversation = f"cust-{uuid.uuid4().hex[:8]}"
    r = copilot.post("feedback", {"topic": "materials_individual", "text": QUESTION, "verdict": "used",
                                  "conversation_id": conversation})
    assert r.status_code == 201, r.text
    used = r.json()["id"]
    r = copilot.post("feedback", {"topic": "materials_company", "text": "公司备案 找我 13812345678",
                                  "verdict": "wrong"}, token=OTHER_TOKEN)
    assert r.status_code == 201, r.text
    wrong = r.json()["id"]

    engine = make_engine(copilot.db_url)
    try:
        with session_scope(engine) as session:
            rows = {f.id: f for f in session.execute(
                select(SuggestionFeedback).where(SuggestionFeedback.id.in_([used, wrong]))).scalars()}
    finally:
        engine.dispose()
    assert (rows[used].agent, rows[used].topic, rows[used].text, rows[used].verdict, rows[used].conversation_id) == (
        fingerprint(TOKEN), "materials_individual", QUESTION, "used", conversation)
    assert (rows[wrong].agent, rows[wrong].topic, rows[wrong].verdict, rows[wrong].conversation_id) == (
        fingerprint(OTHER_TOKEN), "materials_company", "wrong", None)
    assert rows[wrong].text == "公司备案 找我 138****5678"  # contacts are masked before storing
    assert rows[used].created_at.tzinfo is not None


@pytest.mark.parametrize("body, why", [
    ({"topic": "materials_individual", "text": QUESTION, "verdict": "maybe"}, "\"verdict\""),
    ({"topic": "materials_individual", "text": QUESTION, "verdict": ["used"]}, "\"verdict\""),
    ({"topic": "materials_individual", "text": QUESTION}, "\"verdict\" is required"),
    ({"topic": "no_such_topic", "text": QUESTION, "verdict": "used"}, "\"topic\""),
    ({"topic": 5, "text": QUESTION, "verdict": "used"}, "\"topic\""),
    ({"topic": "materials_individual", "text": "", "verdict": "used"}, "\"text\""),
    ({"topic": "materials_individual", "text": QUESTION, "verdict": "used", "conversation_id": 7},
     "\"conversation_id\""),
    ([], "JSON object"),
], ids=["verdict-maybe", "verdict-list", "no-verdict", "unknown-topic", "topic-int", "text-empty", "id-int", "list"])
@e2e
def test_bad_feedback_gets_400(copilot, body, why):
    r = copilot.post("feedback", body)
    assert r.status_code == 400, r.text
    assert why in r.json()["error"]


# --- without servers ------------------------------------------------------------------------------


def test_tokens_come_from_the_credentials_else_the_environment():
    env = {"COPILOT_TOKENS": "a-token-from-env, second ,,"}
    assert CopilotConfig.from_credentials(None, env).tokens == ("a-token-from-env", "second")
    assert CopilotConfig.from_credentials({"tokens": ""}, env).tokens == ("a-token-from-env", "second")
    assert CopilotConfig.from_credentials({"tokens": "x1,x2"}, env).tokens == ("x1", "x2")
    assert CopilotConfig.from_credentials({"tokens": ["y1", "y1", " y2 "]}, env).tokens == ("y1", "y2")
    assert CopilotConfig.from_credentials({}, {}).tokens == ()
    assert parse_tokens(None) == ()


def test_token_checker_and_bearer_header():
    checker = TokenChecker(["alpha-token", "beta-token"])
    assert checker.agent("alpha-token") == fingerprint("alpha-token") != checker.agent("beta-token")
    assert len(fingerprint("alpha-token")) == 8 and fingerprint("alpha-token") not in "alpha-token"
    for wrong in (None, "", "alpha", "alpha-token ", "alpha-tokenX", "ALPHA-TOKEN"):
        assert checker.agent(wrong) is None
    assert TokenChecker([]).agent("anything") is None and not TokenChecker([])
    assert bearer_token("Bearer abc") == bearer_token("bearer  abc ") == "abc"
    for header in (None, "", "Bearer", "Bearer   ", "Basic abc", "abc"):
        assert bearer_token(header) is None


def test_request_checks(kb):
    assert suggest_problem({"text": "你好"}) is None
    assert suggest_problem({"text": "你好", "conversation_id": "c1"}) is None
    assert "required" in suggest_problem({"conversation_id": "c1"})
    ok = {"topic": "materials_individual", "text": "x", "verdict": "wrong"}
    assert feedback_problem(ok, kb) is None
    assert "topic" in feedback_problem({**ok, "topic": "materials"}, kb)
    assert "verdict" in feedback_problem({**ok, "verdict": "USED"}, kb)


def test_candidates_are_three_to_five_and_skip_unknown_topics(kb):
    def parse(*ranking):
        return {"response_selector": {"faq": {"ranking": [
            {"intent_response_key": f"faq/{t}", "confidence": c} for t, c in ranking]}}}

    topics = [t.id for t in kb.topics]
    strong = parse(*[(t, 0.2 - i * 0.01) for i, t in enumerate(topics[:8])])
    assert [c["topic"] for c in candidates(strong, kb)] == topics[:5]
    weak = parse((topics[0], 0.97), ("gone_topic", 0.02), (topics[1], 0.02), (topics[2], 0.001), (topics[3], 0.001))
    assert [c["topic"] for c in candidates(weak, kb)] == topics[:3]
    followed = candidates(strong, kb, first=topics[6])
    answer = kb.get(topics[6]).answer
    assert followed[0] == {"topic": topics[6], "question": kb.get(topics[6]).question,
                           "answer": answer, "answer_plain": to_plain(answer), "confidence": 1.0}
    assert [c["topic"] for c in followed].count(topics[6]) == 1


def test_a_database_failure_makes_the_order_unavailable_not_an_error(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'not-migrated.db'}")  # no tables: every query fails
    try:
        assert lookup_order("ICP2026110400318", engine) == {"order_no": "ICP2026110400318", "error": "unavailable"}
    finally:
        engine.dispose()


def test_upgrade_head_on_an_empty_sqlite_creates_the_feedback_table(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert "suggestion_feedback" not in inspect(engine).get_table_names()
        migrate(engine, "0002")
        assert current_revision(engine) == "0002"
        inspector = inspect(engine)
        columns = {c["name"]: c for c in inspector.get_columns("suggestion_feedback")}
        assert set(columns) == {"id", "agent", "topic", "text", "verdict", "conversation_id", "created_at"}
        assert columns["conversation_id"]["nullable"] and not columns["verdict"]["nullable"]
        assert "ck_suggestion_feedback_verdict" in {c["name"] for c in inspector.get_check_constraints(
            "suggestion_feedback")}
        with engine.begin() as conn:  # the CHECK holds even for writes that bypass the model
            conn.exec_driver_sql("INSERT INTO suggestion_feedback (agent, topic, text, verdict, created_at) "
                                 "VALUES ('abcd1234', 'materials_individual', 'x', 'used', '2026-11-30 00:00:00')")
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO suggestion_feedback (agent, topic, text, verdict, created_at) "
                                 "VALUES ('abcd1234', 'materials_individual', 'x', 'maybe', '2026-11-30 00:00:00')")
        downgrade(engine, "0001")
        assert "suggestion_feedback" not in inspect(engine).get_table_names()
        assert "filing_orders" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
