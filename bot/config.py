"""One settings object, read from the environment when asked for (never at import time)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Everything configurable; each field names the environment variable it comes from."""

    faq_dir: Path = ROOT / "faq"  # FAQ_DIR
    # FAQ_THRESHOLD: a floor on the calibrated FAQ confidence (bot/calibration.json holds the
    # operating point); it can only raise the bar.
    faq_threshold: float = 0.5
    hotline: str = "4000-955-988转5 / 950808转5"  # HOTLINE
    service_hours: str = "09:00-21:00"  # SERVICE_HOURS: when people answer the hotline (China time)
    lookup_max_failures: int = 3  # LOOKUP_MAX_FAILURES: identity failures per conversation
    lookup_rate_limit: int = 10  # LOOKUP_RATE_LIMIT: failed lookups per sender per window
    lookup_order_rate_limit: int = 20  # LOOKUP_ORDER_RATE_LIMIT: failed lookups per order per window
    lookup_window_seconds: int = 3600  # LOOKUP_WINDOW_SECONDS
    helpdesk_webhook_url: str = ""  # HELPDESK_WEBHOOK_URL: tickets are also POSTed here when set
    helpdesk_timeout_seconds: float = 10.0  # HELPDESK_TIMEOUT_SECONDS: one POST to the helpdesk
    outbox_interval_seconds: float = 30.0  # OUTBOX_INTERVAL_SECONDS: the worker looks for due deliveries
    outbox_backoff_seconds: float = 10.0  # OUTBOX_BACKOFF_SECONDS: wait after the 1st failure, doubling
    outbox_backoff_cap_seconds: float = 3600.0  # OUTBOX_BACKOFF_CAP_SECONDS: the longest wait between attempts
    outbox_lease_seconds: float = 120.0  # OUTBOX_LEASE_SECONDS: a claimed delivery is someone else's after this
    outbox_max_attempts: int = 60  # OUTBOX_MAX_ATTEMPTS: then the delivery is marked failed (0: never)
    test_clock: bool = False  # TEST_CLOCK: honour a message's metadata.clock (conversation tests only)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            faq_dir=Path(env.get("FAQ_DIR", cls.faq_dir)),
            faq_threshold=float(env.get("FAQ_THRESHOLD", cls.faq_threshold)),
            hotline=env.get("HOTLINE", cls.hotline),
            service_hours=env.get("SERVICE_HOURS", cls.service_hours),
            lookup_max_failures=int(env.get("LOOKUP_MAX_FAILURES", cls.lookup_max_failures)),
            lookup_rate_limit=int(env.get("LOOKUP_RATE_LIMIT", cls.lookup_rate_limit)),
            lookup_order_rate_limit=int(env.get("LOOKUP_ORDER_RATE_LIMIT", cls.lookup_order_rate_limit)),
            lookup_window_seconds=int(env.get("LOOKUP_WINDOW_SECONDS", cls.lookup_window_seconds)),
            helpdesk_webhook_url=env.get("HELPDESK_WEBHOOK_URL", cls.helpdesk_webhook_url),
            helpdesk_timeout_seconds=float(env.get("HELPDESK_TIMEOUT_SECONDS", cls.helpdesk_timeout_seconds)),
            outbox_interval_seconds=float(env.get("OUTBOX_INTERVAL_SECONDS", cls.outbox_interval_seconds)),
            outbox_backoff_seconds=float(env.get("OUTBOX_BACKOFF_SECONDS", cls.outbox_backoff_seconds)),
            outbox_backoff_cap_seconds=float(env.get("OUTBOX_BACKOFF_CAP_SECONDS", cls.outbox_backoff_cap_seconds)),
            outbox_lease_seconds=float(env.get("OUTBOX_LEASE_SECONDS", cls.outbox_lease_seconds)),
            outbox_max_attempts=int(env.get("OUTBOX_MAX_ATTEMPTS", cls.outbox_max_attempts)),
            test_clock=env.get("TEST_CLOCK", "").strip().lower() in ("1", "true", "yes"),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use."""
    return Settings.from_env()
