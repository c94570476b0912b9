"""WeChat's customer-service message API: the access token (shared through a `TokenCache`) and text
messages, retried with bounded exponential backoff when WeChat is busy or unreachable.

Errors that cannot succeed on a retry (the user has not written for 48 h, an invalid OpenID, our IP
not whitelisted…) are raised at once; an expired token is refreshed and the message sent again once.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Optional, Sequence

import aiohttp

from bot.channels.wechat_protocol import split_text
from bot.channels.wechat_state import MemoryTokenCache, TokenCache

logger = logging.getLogger(__name__)

API_BASE = "https://api.weixin.qq.com"
TOKEN_EXPIRED = frozenset({40001, 40014, 42001})  # invalid / expired access_token
# Retrying cannot help: bad credentials, IP not whitelisted, no API permission, invalid OpenID,
# content refused, user unsubscribed / silent for 48 h (45015) / reply quota for this user used (45047).
PERMANENT = frozenset({40002, 40003, 40013, 40125, 40164, 41001, 43004, 44002, 45002, 45015, 45047,
                       48001, 50001, 50002})
RETRY_DELAYS = (1.0, 4.0)  # seconds before the 2nd and 3rd attempt: 3 attempts, ~30 s at worst
REQUEST_TIMEOUT = 8.0  # seconds per HTTP request
TOKEN_WAIT = 5.0  # seconds to wait for another replica's token refresh before fetching one ourselves


class WeChatApiError(Exception):
    def __init__(self, errcode: Any, errmsg: Any = "", attempts: int = 1):
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode, self.attempts = errcode, attempts

    @property
    def permanent(self) -> bool:
        return self.errcode in PERMANENT


class WeChatApi:
    """Access token (cached until shortly before it expires) and customer-service text messages."""

    def __init__(self, base: str, app_id: str, app_secret: str, timeout: float = REQUEST_TIMEOUT,
                 tokens: Optional[TokenCache] = None, retry_delays: Sequence[float] = RETRY_DELAYS):
        self.base, self.app_id, self.app_secret = base.rstrip("/"), app_id, app_secret
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.tokens = tokens or MemoryTokenCache()
        self.retry_delays = tuple(retry_delays)
        self._lock: Optional[asyncio.Lock] = None

    async def access_token(self, session: aiohttp.ClientSession) -> str:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one refresh per process; `lock_refresh`: one across replicas
            token = await self.tokens.get()
            if token is not None:
                return token
            if not await self.tokens.lock_refresh():
                token = await self._token_from_another_replica()
                if token is not None:
                    return token
            try:
                return await self._fetch_token(session)
            finally:
                await self.tokens.unlock_refresh()

    async def _token_from_another_replica(self) -> Optional[str]:
        for _ in range(int(TOKEN_WAIT / 0.1)):
            await asyncio.sleep(0.1)
            token = await self.tokens.get()
            if token is not None:
                return token
        return None

    async def _fetch_token(self, session: aiohttp.ClientSession) -> str:
        params = {"grant_type": "client_credential", "appid": self.app_id, "secret": self.app_secret}
        async with session.get(f"{self.base}/cgi-bin/token", params=params) as r:
            data = await r.json(content_type=None)
        if not isinstance(data, dict) or not data.get("access_token"):
            raise WeChatApiError((data or {}).get("errcode", -1), (data or {}).get("errmsg"))
        lifetime = float(data.get("expires_in") or 7200)
        token = str(data["access_token"])
        await self.tokens.put(token, max(lifetime - 300, lifetime / 2))
        logger.info("wechat: new access token, valid for %.0f s", lifetime)
        return token

    async def invalidate(self, token: str) -> None:
        """Forget `token` (unless another request already replaced it)."""
        await self.tokens.invalidate(token)

    async def send_text(self, openid: str, text: str) -> None:
        """Send `text` as one or more customer-service messages (split on line boundaries), each
        retried on its own so a chunk already sent is never sent again."""
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            for chunk in split_text(text):
                await self._send_retrying(session, openid, chunk)

    async def _send_retrying(self, session: aiohttp.ClientSession, openid: str, content: str) -> None:
        delays = self.retry_delays
        for attempt in range(1, len(delays) + 2):
            try:
                return await self._send_one(session, openid, content)
            except (WeChatApiError, aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
                error = e if isinstance(e, WeChatApiError) else WeChatApiError(-1, f"{type(e).__name__}: {e}")
                error.attempts = attempt
                if error.permanent or attempt > len(delays):
                    raise error from None
                logger.warning("wechat: customer-service message attempt %d failed (%s); retrying in %.1f s",
                               attempt, error, delays[attempt - 1])
                await asyncio.sleep(delays[attempt - 1])

    async def _send_one(self, session: aiohttp.ClientSession, openid: str, content: str) -> None:
        body = json.dumps({"touser": openid, "msgtype": "text", "text": {"content": content}},
                          ensure_ascii=False).encode("utf-8")  # WeChat shows \u escapes literally
        for attempt in (1, 2):
            token = await self.access_token(session)
            async with session.post(f"{self.base}/cgi-bin/message/custom/send", params={"access_token": token},
                                    data=body, headers={"Content-Type": "application/json; charset=utf-8"}) as r:
                data = await r.json(content_type=None)
            errcode = data.get("errcode", 0) if isinstance(data, dict) else -1
            if not errcode:
                return
            if errcode in TOKEN_EXPIRED and attempt == 1:
                logger.info("wechat: access token rejected (%s); refreshing and retrying once", errcode)
                await self.invalidate(token)
                continue
            raise WeChatApiError(errcode, data.get("errmsg") if isinstance(data, dict) else data)
