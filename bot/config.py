"""One settings object, read from the environment when asked for (never at import time)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Everything configurable; each field names the environment variable it comes from."""

    faq_dir: Path = ROOT / "faq"  # FAQ_DIR
    faq_threshold: float = 0.5  # FAQ_THRESHOLD: below this ResponseSelector confidence, offer choices
    hotline: str = "4000-955-988转5 / 950808转5"  # HOTLINE

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        return cls(
            faq_dir=Path(env.get("FAQ_DIR", cls.faq_dir)),
            faq_threshold=float(env.get("FAQ_THRESHOLD", cls.faq_threshold)),
            hotline=env.get("HOTLINE", cls.hotline),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use."""
    return Settings.from_env()
