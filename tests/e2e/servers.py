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
