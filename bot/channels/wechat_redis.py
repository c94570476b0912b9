"""The WeChat bridge's state on Redis, shared by every Rasa replica behind the load balancer.

WeChat retries a message up to 3 times and each retry may reach another replica, so who processes a
MsgId and who delivers its answer are decided in Redis, each decision one atomic step:

- `begin` is `SET …:owner NX EX`: exactly one replica takes the turn on.
- A request waiting for the answer registers in a sorted set with a deadline (Redis' own clock), so
  a replica that dies while waiting stops counting once its deadline has passed (the turn's owner
  then sweeps the answer to the API). A waiter claims the answer passively only within its budget;
  one back later, after `finish` counted it, claims nothing and its `claim_unsent` sends it instead.
- `finish`, the waiter's claim, `claim_unsent` and `mark_undelivered` are Lua scripts that read and
  set the `delivered` field together: the passive reply and the customer-service API can never both
  take an answer, exactly as in `MemoryTurnLedger`.

Keys live under a prefix (default `beian:wechat:`); a turn's keys share a hash tag (`{openid:msgid}`)
so the scripts also run on Redis Cluster. No connection is made before the first command.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any, Dict, List, Optional

from bot.channels.wechat_protocol import PASSIVE_MAX_BYTES
from bot.channels.wechat_state import (
    OPTIONS_TTL,
    RETRY_TTL,
    UNDELIVERED_MAX,
    OptionsStore,
    TokenCache,
    TurnLedger,
    UndeliveredLog,
)

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "beian:wechat:"
WAIT_GRACE = 2.0  # seconds a waiter still counts after its own timeout (polling, slow event loop)
POLL_INTERVAL = 0.05  # seconds between looks at another replica's answer

_NOW_MS = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "

# KEYS: owner, state, waiters. Each returns what the Python side needs, nothing more.
_JOIN = _NOW_MS + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local reply = redis.call('HGET', KEYS[2], 'reply')
if reply then
  if redis.call('HGET', KEYS[2], 'delivered') == 'api' then return {1} end
  redis.call('HSET', KEYS[2], 'delivered', 'passive')
  return {2, reply}
end
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return {3, now}
"""
_LEAVE = _NOW_MS + """
redis.call('ZREM', KEYS[3], ARGV[1])
local reply = redis.call('HGET', KEYS[2], 'reply')
if reply and now <= tonumber(ARGV[2]) and redis.call('HGET', KEYS[2], 'delivered') ~= 'api' then
  redis.call('HSET', KEYS[2], 'delivered', 'passive')
  return reply
end
return false
"""
_FINISH = _NOW_MS + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
redis.call('HSET', KEYS[2], 'reply', ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local delivered = redis.call('HGET', KEYS[2], 'delivered')
if ARGV[2] == '0' or (not delivered and redis.call('ZCARD', KEYS[3]) == 0) then
  redis.call('HSET', KEYS[2], 'delivered', 'api')
  return 1
end
return 0
"""
_CLAIM = _NOW_MS + """
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local reply = redis.call('HGET', KEYS[2], 'reply')
if reply and not redis.call('HGET', KEYS[2], 'delivered') and redis.call('ZCARD', KEYS[3]) == 0 then
  redis.call('HSET', KEYS[2], 'delivered', 'api')
  return reply
end
return false
"""
_MARK_UNDELIVERED = """
local reply = redis.call('HGET', KEYS[2], 'reply')
if reply and #reply <= tonumber(ARGV[1]) and redis.call('HGET', KEYS[2], 'delivered') == 'api' then
  redis.call('HSET', KEYS[2], 'delivered', 'failed')
end
return 0
"""
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisConnection:
    """One `redis.asyncio` client for the bridge, created on first use (never at import or in
    `from_credentials`, which may run outside the server's event loop)."""

    def __init__(self, url: str, prefix: str = DEFAULT_PREFIX):
        self.url, self.prefix = url, prefix
        self._client: Any = None
        self._scripts: Dict[str, Any] = {}

    def client(self) -> Any:
        if self._client is None:
            import redis.asyncio as aioredis

            self._client = aioredis.Redis.from_url(self.url, decode_responses=True, socket_timeout=5,
                                                   socket_connect_timeout=3, health_check_interval=30)
        return self._client

    async def run(self, source: str, keys: List[str], args: List[Any]) -> Any:
        """EVALSHA `source` (loaded once per client)."""
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.client().register_script(source)
        return await script(keys=keys, args=args)

    async def close(self) -> None:
        if self._client is not None:
            client, self._client, self._scripts = self._client, None, {}
            await client.close()
            await client.connection_pool.disconnect()


class RedisTurnLedger(TurnLedger):
    """`TurnLedger` shared by replicas; see the module docstring for why each step is atomic."""

    shared = True

    def __init__(self, redis: RedisConnection, ttl: float = RETRY_TTL, grace: float = WAIT_GRACE,
                 poll: float = POLL_INTERVAL):
        self.redis, self.ttl, self.grace, self.poll = redis, ttl, grace, poll
        self.replica = uuid.uuid4().hex[:12]
        self._local: Dict[str, list] = {}  # [event, waiters]: wakes this replica's waiters at once

    def _keys(self, key: str) -> List[str]:
        base = f"{self.redis.prefix}turn:{{{key}}}"
        return [base + ":owner", base, base + ":waiters"]

    def _ms(self, seconds: float) -> int:
        return max(1, int(seconds * 1000))

    async def begin(self, key: str) -> bool:
        return bool(await self.redis.client().set(self._keys(key)[0], self.replica, nx=True,
                                                  px=self._ms(self.ttl)))

    async def await_reply(self, key: str, timeout: float) -> Optional[str]:
        keys, waiter = self._keys(key), uuid.uuid4().hex
        joined = await self.redis.run(_JOIN, keys, [waiter, self._ms(timeout + self.grace), self._ms(self.ttl)])
        if joined[0] != 3:  # unknown turn, answer already delivered (None) or ready now (the answer)
            return joined[1] if joined[0] == 2 else None
        try:
            await self._wait(key, keys[1], timeout)
        except asyncio.CancelledError:  # WeChat hung up: stop counting as a waiter, then let go
            await asyncio.shield(self.redis.client().zrem(keys[2], waiter))
            raise
        # Claims passively only within `timeout` (Redis' clock), like the memory ledger's wait_for.
        # A waiter that leaves later, after `finish` counted it, claims nothing; the caller's
        # `claim_unsent` then hands the answer to the API.
        claim_until = int(joined[1]) + self._ms(timeout)
        leave = asyncio.ensure_future(self.redis.run(_LEAVE, keys, [waiter, claim_until]))
        try:
            return await asyncio.shield(leave) or None
        except asyncio.CancelledError:
            # Cancelled while claiming: the claim stands and is returned, as `asyncio.wait_for`
            # returns a result that arrived with the cancel; WeChat's retry gets the same answer.
            return await leave or None

    async def _wait(self, key: str, state: str, timeout: float) -> None:
        """Until the answer is in Redis or `timeout` has passed: woken at once by a finish on this
        replica, looking every `poll` seconds for one on another."""
        entry = self._local.setdefault(key, [asyncio.Event(), 0])
        entry[1] += 1
        deadline = time.monotonic() + timeout
        try:
            while not await self.redis.client().hexists(state, "reply"):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                try:
                    await asyncio.wait_for(entry[0].wait(), min(self.poll, left))
                except asyncio.TimeoutError:
                    pass
        finally:
            entry[1] -= 1
            if entry[1] == 0 and self._local.get(key) is entry:
                del self._local[key]

    async def finish(self, key: str, reply: str, passive: bool = True) -> bool:
        api = await self.redis.run(_FINISH, self._keys(key), [reply, "1" if passive else "0", self._ms(self.ttl)])
        entry = self._local.get(key)
        if entry is not None:
            entry[0].set()
        return bool(api)

    async def claim_unsent(self, key: str) -> Optional[str]:
        return await self.redis.run(_CLAIM, self._keys(key), []) or None

    async def mark_undelivered(self, key: str) -> None:
        await self.redis.run(_MARK_UNDELIVERED, self._keys(key), [PASSIVE_MAX_BYTES])


class RedisOptionsStore(OptionsStore):
    """Numbered options per OpenID as a JSON list with a TTL: the number may reach any replica."""

    def __init__(self, redis: RedisConnection, ttl: float = OPTIONS_TTL):
        self.redis, self.ttl = redis, ttl

    def _key(self, openid: str) -> str:
        return f"{self.redis.prefix}options:{openid}"

    async def remember(self, openid: str, payloads: List[str]) -> None:
        if payloads:
            await self.redis.client().set(self._key(openid), json.dumps(list(payloads), ensure_ascii=False),
                                          px=max(1, int(self.ttl * 1000)))
        else:  # a reply without options makes earlier numbers mean nothing
            await self.redis.client().delete(self._key(openid))

    async def payload(self, openid: str, number: int) -> Optional[str]:
        raw = await self.redis.client().get(self._key(openid))
        try:
            payloads = json.loads(raw) if raw else []
        except ValueError:
            return None
        if not isinstance(payloads, list):
            return None
        return str(payloads[number - 1]) if 1 <= number <= len(payloads) else None


class RedisTokenCache(TokenCache):
    """The access token under `token:<app_id>` with its expiry; refreshing takes a short lock so
    replicas do not fetch tokens in turn (each fetch retires the previous token)."""

    LOCK_SECONDS = 15.0

    def __init__(self, redis: RedisConnection, app_id: str):
        self.redis = redis
        self.key = f"{redis.prefix}token:{app_id}"
        self.lock_key = self.key + ":refresh"
        self._holder = uuid.uuid4().hex

    async def get(self) -> Optional[str]:
        return await self.redis.client().get(self.key)

    async def put(self, token: str, ttl: float) -> None:
        await self.redis.client().set(self.key, token, px=max(1, int(ttl * 1000)))

    async def invalidate(self, token: str) -> None:
        await self.redis.run(_DELETE_IF, [self.key], [token])

    async def lock_refresh(self) -> bool:
        return bool(await self.redis.client().set(self.lock_key, self._holder, nx=True,
                                                  px=int(self.LOCK_SECONDS * 1000)))

    async def unlock_refresh(self) -> None:
        await self.redis.run(_DELETE_IF, [self.lock_key], [self._holder])


class RedisUndeliveredLog(UndeliveredLog):
    """A capped Redis list (`undelivered`), newest first, that any replica can read."""

    def __init__(self, redis: RedisConnection, max_entries: int = UNDELIVERED_MAX):
        self.redis, self.max_entries = redis, max_entries
        self.key = f"{redis.prefix}undelivered"

    async def record(self, entry: Dict[str, Any]) -> None:
        pipe = self.redis.client().pipeline(transaction=True)
        pipe.lpush(self.key, json.dumps(entry, ensure_ascii=False))
        pipe.ltrim(self.key, 0, self.max_entries - 1)
        await pipe.execute()

    async def recent(self, limit: int = 100) -> List[Dict[str, Any]]:
        return [json.loads(raw) for raw in await self.redis.client().lrange(self.key, 0, limit - 1)]
