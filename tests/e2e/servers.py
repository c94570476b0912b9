"""Helpers for tests that talk to real servers over loopback."""
from __future__ import annotations

import uuid

import requests

from bot.config import ROOT
from bot.serve import free_port  # noqa: F401  (re-exported for the e2e tests)

MODEL = ROOT / "models" / "current.tar.gz"


class Bot:
    """A thin REST client for one running assistant."""

    def __init__(self, base: str):
        self.base = base

    def say(self, text, sender=None, timeout=30):
        sender = sender or f"t-{uuid.uuid4().hex[:8]}"
        r = requests.post(f"{self.base}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                          timeout=timeout)
        assert r.status_code == 200, r.text
        return r.json()

    def text(self, text, sender=None):
        return "\n".join(m.get("text", "") for m in self.say(text, sender))

    def alive(self) -> bool:
        return requests.get(f"{self.base}/status", timeout=10).status_code == 200


# The WeChat channel's token in the e2e servers (tests/e2e/conftest.py): new each run, so a log line
# that ever carries it is found by tests/e2e/test_abuse.py without false alarms from older logs.
WECHAT_TOKEN = f"e2e-wechat-{uuid.uuid4().hex}"
