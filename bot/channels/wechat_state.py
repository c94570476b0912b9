"""State the WeChat bridge keeps between requests, behind small interfaces with an in-process
implementation each. `wechat_redis` implements the same interfaces on Redis for several replicas;
`wechat_config.make_state` picks one or the other.

- `TurnLedger`: which messages (MsgId) were taken on and their answers, so WeChat's retries are
  processed once and the answer is delivered exactly once (passively or through the API).
- `OptionsStore`: the payloads behind the numbered options last shown to each OpenID.
- `TokenCache`: the access token of the customer-service API, until shortly before it expires.
- `UndeliveredLog`: answers the customer-service API would not take, kept (bounded) for a person.
"""
from __future__ import annotations

import abc
import asyncio
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from bot.channels.wechat_protocol import fits_passive

RETRY_TTL = 300.0  # WeChat's retries of a message come within ~15 s
OPTIONS_TTL = 1800.0  # how long the numbered options (回复数字继续) can be answered with their number
UNDELIVERED_MAX = 1000  # undelivered answers kept for a person to follow up


class TurnLedger(abc.ABC):
    """Which WeChat messages have been taken on, and their answers, so retries are processed once.

    The turn's owner calls `begin` (True once per key) and, when Rasa has answered, `finish`.
    Every request for the key (the first and each retry) calls `await_reply`: it returns the answer
    when the request may send it passively, or None when it must answer "success" (not ready in
    time, or already delivered through the customer-service API). `finish` returns True when no
    request is waiting for the answer, so the owner must send it through the API. A request that
    is cancelled while waiting (WeChat hung up) calls `claim_unsent`: the answer, when it is ready
    and nobody is left to send it passively, so the caller sends it through the API instead.
    When the API would not take an answer, `mark_undelivered` lets a later retry of the same
    message still get it passively (but never hands it to the API again).

    `shared` ledgers live outside the process: a waiter on another replica can die without
    telling us, so the owner sweeps (`claim_unsent`) once every waiter's deadline has passed."""

    shared = False

    @abc.abstractmethod
    async def begin(self, key: str) -> bool: ...

    @abc.abstractmethod
    async def await_reply(self, key: str, timeout: float) -> Optional[str]: ...

    @abc.abstractmethod
    async def finish(self, key: str, reply: str, passive: bool = True) -> bool: ...

    @abc.abstractmethod
    async def claim_unsent(self, key: str) -> Optional[str]: ...

    @abc.abstractmethod
    async def mark_undelivered(self, key: str) -> None: ...


# `delivered`: None (nobody has it yet) | "passive" (a request answers with it; its retries may
# too) | "api" (handed to the customer-service API) | "failed" (the API gave up: retries may take it)
PASSIVE_OK = (None, "passive", "failed")


@dataclass
class _Turn:
    expires: float
    event: asyncio.Event = field(default_factory=asyncio.Event)
    reply: Optional[str] = None
    delivered: Optional[str] = None
    waiters: int = 0


class MemoryTurnLedger(TurnLedger):
    """In-process ledger with a TTL: right for one Rasa process (several need `RedisTurnLedger`)."""

    def __init__(self, ttl: float = RETRY_TTL, max_entries: int = 100_000,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self._turns: OrderedDict[str, _Turn] = OrderedDict()

    def _prune(self) -> None:
        now = self.clock()
        while self._turns:
            key, turn = next(iter(self._turns.items()))
            if turn.expires > now and len(self._turns) <= self.max_entries:
                break
            del self._turns[key]

    async def begin(self, key: str) -> bool:
        self._prune()
        if key in self._turns:
            return False
        self._turns[key] = _Turn(expires=self.clock() + self.ttl)
        return True

    async def await_reply(self, key: str, timeout: float) -> Optional[str]:
        turn = self._turns.get(key)
        if turn is None:
            return None
        if turn.reply is None:
            turn.waiters += 1
            try:
                await asyncio.wait_for(turn.event.wait(), timeout)
            except asyncio.TimeoutError:
                pass
            finally:
                turn.waiters -= 1
        # No await from here on: deciding and claiming is one step on the event loop.
        if turn.reply is not None and turn.delivered in PASSIVE_OK:
            turn.delivered = "passive"
            return turn.reply
        return None

    async def finish(self, key: str, reply: str, passive: bool = True) -> bool:
        turn = self._turns.get(key)
        if turn is None:  # pruned while running (longer than the TTL): deliver it anyway
            return True
        turn.reply = reply
        turn.event.set()  # waiters resume after this step, so they see `delivered` as decided here
        if not passive or (turn.delivered is None and turn.waiters == 0):
            turn.delivered = "api"
            return True
        return False

    async def claim_unsent(self, key: str) -> Optional[str]:
        turn = self._turns.get(key)
        if turn is not None and turn.reply is not None and turn.delivered is None and turn.waiters == 0:
            turn.delivered = "api"
            return turn.reply
        return None

    async def mark_undelivered(self, key: str) -> None:
        turn = self._turns.get(key)
        if turn is not None and turn.delivered == "api" and fits_passive(turn.reply or ""):
            turn.delivered = "failed"


class OptionsStore(abc.ABC):
    """The payloads of the numbered options last shown to each OpenID."""

    @abc.abstractmethod
    async def remember(self, openid: str, payloads: List[str]) -> None: ...

    @abc.abstractmethod
    async def payload(self, openid: str, number: int) -> Optional[str]: ...


class MemoryOptionsStore(OptionsStore):
    def __init__(self, ttl: float = OPTIONS_TTL, max_entries: int = 100_000,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self._options: OrderedDict[str, tuple[float, List[str]]] = OrderedDict()

    async def remember(self, openid: str, payloads: List[str]) -> None:
        self._options.pop(openid, None)
        if payloads:  # a reply without options makes earlier numbers mean nothing
            self._options[openid] = (self.clock() + self.ttl, list(payloads))
        while len(self._options) > self.max_entries:
            self._options.popitem(last=False)

    async def payload(self, openid: str, number: int) -> Optional[str]:
        expires, payloads = self._options.get(openid, (0.0, []))
        if expires <= self.clock():
            self._options.pop(openid, None)
            return None
        return payloads[number - 1] if 1 <= number <= len(payloads) else None


class TokenCache(abc.ABC):
    """The customer-service API's access token. Fetching a new token makes WeChat retire the old one
    (after a grace period), so replicas share one token and one replica at a time refreshes it."""

    @abc.abstractmethod
    async def get(self) -> Optional[str]: ...

    @abc.abstractmethod
    async def put(self, token: str, ttl: float) -> None: ...

    @abc.abstractmethod
    async def invalidate(self, token: str) -> None:
        """Forget `token` — only if it is still the cached one (another request may have replaced it)."""

    async def lock_refresh(self) -> bool:
        """Whether this caller may fetch a new token now (False: another replica is fetching one)."""
        return True

    async def unlock_refresh(self) -> None:
        return None


class MemoryTokenCache(TokenCache):
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._token: Optional[str] = None
        self._expires = 0.0

    async def get(self) -> Optional[str]:
        return self._token if self._token is not None and self.clock() < self._expires else None

    async def put(self, token: str, ttl: float) -> None:
        self._token, self._expires = token, self.clock() + ttl

    async def invalidate(self, token: str) -> None:
        if self._token == token:
            self._token = None


class UndeliveredLog(abc.ABC):
    """Answers the customer-service API would not take (bounded, newest first), so none is lost
    silently: each entry has the turn key, the OpenID, the answer, the error and the time."""

    @abc.abstractmethod
    async def record(self, entry: Dict[str, Any]) -> None: ...

    @abc.abstractmethod
    async def recent(self, limit: int = 100) -> List[Dict[str, Any]]: ...


class MemoryUndeliveredLog(UndeliveredLog):
    def __init__(self, max_entries: int = UNDELIVERED_MAX):
        self._entries: deque[Dict[str, Any]] = deque(maxlen=max_entries)

    async def record(self, entry: Dict[str, Any]) -> None:
        self._entries.appendleft(dict(entry))

    async def recent(self, limit: int = 100) -> List[Dict[str, Any]]:
        return list(self._entries)[:limit]
