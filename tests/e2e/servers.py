"""Helpers for tests that talk to real servers over loopback."""
from __future__ import annotations

import socket
import uuid

import requests

from bot.config import ROOT

MODEL = ROOT / "models" / "current.tar.gz"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
