"""The WeChat channel's configuration (credentials, else environment variables) and where its state
lives (memory, or Redis when `redis_url` is set). bot/channels/wechat.py documents every key."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Optional

from bot.channels.wechat_api import API_BASE
from bot.channels.wechat_state import (
    MemoryOptionsStore,
    MemoryTokenCache,
    MemoryTurnLedger,
    MemoryUndeliveredLog,
    OptionsStore,
    TokenCache,
    TurnLedger,
    UndeliveredLog,
)

PASSIVE_BUDGET = 4.0  # seconds; WeChat waits 5


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class WeChatConfig:
    token: str = ""
    app_id: str = ""
    app_secret: str = ""
    aes_key: str = ""
    api_base: str = API_BASE
    passive_budget: float = PASSIVE_BUDGET
    accept_plaintext: bool = True
    redis_url: str = ""
    redis_prefix: str = ""

    @classmethod
    def from_credentials(cls, credentials: Optional[Mapping[str, Any]],
                         env: Optional[Mapping[str, str]] = None) -> WeChatConfig:
        """Each credentials key, else its environment variable, else the default."""
        creds = credentials or {}
        env = os.environ if env is None else env

        def pick(key: str, var: str, default: str = "") -> str:
            value = creds.get(key)
            if value is None or str(value).strip() == "":
                value = env.get(var, "") or default
            return str(value).strip()

        aes_key = pick("aes_key", "WECHAT_AES_KEY")
        plain = pick("accept_plaintext", "WECHAT_ACCEPT_PLAINTEXT")
        config = cls(
            token=pick("token", "WECHAT_TOKEN"),
            app_id=pick("app_id", "WECHAT_APP_ID"),
            app_secret=pick("app_secret", "WECHAT_APP_SECRET"),
            aes_key=aes_key,
            api_base=pick("api_base", "WECHAT_API_BASE", API_BASE),
            passive_budget=float(pick("passive_budget", "WECHAT_PASSIVE_BUDGET", str(PASSIVE_BUDGET))),
            accept_plaintext=_truthy(plain) if plain else not aes_key,
            redis_url=pick("redis_url", "REDIS_URL"),
            redis_prefix=pick("redis_prefix", "WECHAT_REDIS_PREFIX"),
        )
        if aes_key and (len(aes_key) != 43 or not config.app_id):
            raise ValueError("WeChat safe mode needs a 43-character WECHAT_AES_KEY and WECHAT_APP_ID")
        if not 0 < config.passive_budget < 5:
            raise ValueError("passive_budget must be between 0 and 5 seconds (WeChat waits 5)")
        return config


@dataclass
class WeChatState:
    """Where the channel keeps what outlives a request: all in memory, or all in Redis."""

    ledger: TurnLedger
    options: OptionsStore
    tokens: TokenCache
    undelivered: UndeliveredLog
    close: Optional[Callable[[], Awaitable[None]]] = None


def make_state(config: WeChatConfig) -> WeChatState:
    """Redis when `redis_url` is set (no connection until the first request), else memory."""
    if not config.redis_url:
        return WeChatState(MemoryTurnLedger(), MemoryOptionsStore(), MemoryTokenCache(), MemoryUndeliveredLog())
    from bot.channels.wechat_redis import (
        DEFAULT_PREFIX,
        RedisConnection,
        RedisOptionsStore,
        RedisTokenCache,
        RedisTurnLedger,
        RedisUndeliveredLog,
    )

    redis = RedisConnection(config.redis_url, config.redis_prefix or DEFAULT_PREFIX)
    return WeChatState(RedisTurnLedger(redis), RedisOptionsStore(redis), RedisTokenCache(redis, config.app_id),
                       RedisUndeliveredLog(redis), close=redis.close)
