"""The report tests' assistant client, its settings and the known conversations (a module of its
own: test modules cannot import from `conftest`, a name every test folder uses)."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Callable

import pytest
import requests
from sqlalchemy import create_engine

from bot.config import ROOT

MODEL = ROOT / "models" / "current.tar.gz"
LOGS = ROOT / "artifacts" / "reports"
TOKEN = f"rep-{secrets.token_urlsafe(24)}"
CREDENTIALS = """\
bot.channels.rest.CheckedRestInput:
socketio:
  user_message_evt: user_uttered
  bot_message_evt: bot_uttered
  session_persistence: true
bot.channels.reports.ReportsInput:
"""


@dataclass
class Assistant:
    base: str
    tracker_url: str
    database_url: str

    def say(self, sender: str, text: str) -> list:
        r = requests.post(f"{self.base}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def say_socketio(self, session_id: str, text: str) -> None:
        """One message through Rasa's socket.io channel, as the web widget sends it; returns once the
        turn is stored (its last event is the action_listen after the user's message)."""
        import socketio

        client = socketio.Client()
        confirmed: list = []
        client.on("session_confirm", lambda sid: confirmed.append(sid))
        client.connect(self.base, socketio_path="/socket.io", transports=["polling"])
        try:
            client.emit("session_request", {"session_id": session_id})
            _wait(lambda: confirmed, "session_confirm")
            before = self.stored_users(session_id)
            client.emit("user_uttered", {"message": text, "session_id": session_id})
            _wait(lambda: self.stored_users(session_id) > before and self.last_action(session_id) == "action_listen",
                  "the socket.io turn to be stored")
        finally:
            client.disconnect()

    def _scalar(self, sql: str, sender: str):
        engine = create_engine(self.tracker_url, future=True)
        try:
            with engine.connect() as c:
                return c.exec_driver_sql(sql, (sender,)).scalar()
        finally:
            engine.dispose()

    def stored_users(self, sender: str) -> int:
        return self._scalar("SELECT count(*) FROM events WHERE sender_id = ? AND type_name = 'user'", sender)

    def last_action(self, sender: str):
        return self._scalar("SELECT action_name FROM events WHERE sender_id = ? ORDER BY id DESC LIMIT 1", sender)


def _wait(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


MATERIALS = "个人备案要准备什么材料"  # answered: materials_individual
HOTLINE = "备案热线电话多少"  # answered: contact_hotline
PHONE = "13812345678"
CONVERSATIONS = (
    ("rest", "m-0", (MATERIALS, "找人工")),  # answered, then the hotline hand-over: escalated
    ("rest", "m-1", (MATERIALS,)),
    ("rest", "m-2", (MATERIALS,)),
    ("socketio", "h-0", (HOTLINE,)),
    ("socketio", "h-1", (HOTLINE,)),
    ("rest", "o-0", ("帮我推荐一部好看的电影",)),  # out of scope, and near-identical to the next
    ("rest", "o-1", ("帮我推荐一部好看的电影吧",)),
    ("rest", "o-2", (f"我手机{PHONE}，能帮我订外卖吗",)),  # out of scope, with a phone number
    ("rest", "g-0", ("asdfghjkl qwer",)),  # gibberish: out of scope
    ("rest", "f-0", ("哦",)),  # nlu_fallback
    ("rest", "c-0", ("域名",)),  # an FAQ parse below FAQ_THRESHOLD: choices offered
)
