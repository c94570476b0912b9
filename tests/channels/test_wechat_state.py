"""The WeChat bridge's state: one ledger/options contract run on memory and on a real Redis, and what
only a shared store must do — replicas racing on one MsgId, a waiter that dies, the shared token."""
from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from bot.channels.wechat import (
    MemoryOptionsStore, MemoryTokenCache, MemoryTurnLedger, MemoryUndeliveredLog, WeChatApi,
)
from bot.channels.wechat_redis import (
    _JOIN, _LEAVE, RedisConnection, RedisOptionsStore, RedisTokenCache, RedisTurnLedger, RedisUndeliveredLog,
)

BACKENDS = ("memory", "redis")


@pytest.fixture
async def connections(request: pytest.FixtureRequest):
    """A factory of Redis connections under this test's prefix: each one is another replica."""
    url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
    made: list[RedisConnection] = []

    def connect() -> RedisConnection:
        made.append(RedisConnection(url, prefix))
        return made[-1]

    yield connect
    for connection in made:
        await connection.close()


@pytest.fixture(params=BACKENDS)
def ledger(request: pytest.FixtureRequest):
    if request.param == "memory":
        return MemoryTurnLedger()
    return RedisTurnLedger(request.getfixturevalue("connections")())


@pytest.fixture(params=BACKENDS)
def options(request: pytest.FixtureRequest):
    if request.param == "memory":
        return MemoryOptionsStore()
    return RedisOptionsStore(request.getfixturevalue("connections")())


# --- the ledger contract, on both backends -------------------------------------------------------


async def test_a_turn_is_taken_once_and_answered_passively_in_time(ledger):
    assert await ledger.begin("k") and not await ledger.begin("k")
    waiting = asyncio.create_task(ledger.await_reply("k", 1.0))
    await asyncio.sleep(0.05)
    assert await ledger.finish("k", "答案") is False  # someone is waiting: they answer passively
    assert await waiting == "答案"
    assert await ledger.await_reply("k", 1.0) == "答案"  # a retry after that gets the same answer
    assert await ledger.claim_unsent("k") is None


async def test_a_late_turn_goes_through_the_api_and_retries_say_success(ledger):
    await ledger.begin("k")
    assert await ledger.await_reply("k", 0.01) is None  # "success"
    assert await ledger.finish("k", "答案") is True  # the owner sends it through the API
    assert await ledger.await_reply("k", 1.0) is None  # a retry must not send it a second time
    assert await ledger.claim_unsent("k") is None


async def test_a_retry_waits_for_the_running_turn(ledger):
    await ledger.begin("k")
    first = asyncio.create_task(ledger.await_reply("k", 1.0))
    retry = asyncio.create_task(ledger.await_reply("k", 1.0))
    await asyncio.sleep(0.05)
    assert await ledger.finish("k", "答案") is False
    assert await first == await retry == "答案"


async def test_a_reply_too_long_for_passive_always_goes_through_the_api(ledger):
    await ledger.begin("k")
    waiting = asyncio.create_task(ledger.await_reply("k", 1.0))
    await asyncio.sleep(0.05)
    assert await ledger.finish("k", "长" * 3000, passive=False) is True
    assert await waiting is None


async def test_a_waiter_cancelled_after_the_answer_hands_it_to_the_api(ledger):
    await ledger.begin("k")
    waiting = asyncio.create_task(ledger.await_reply("k", 1.0))
    await asyncio.sleep(0.05)
    assert await ledger.finish("k", "答案") is False  # the waiter was going to answer passively …
    waiting.cancel()  # … but WeChat hung up before it could
    try:
        passive = await waiting
    except asyncio.CancelledError:  # the handler hands the answer to the API
        assert await ledger.claim_unsent("k") == "答案"
        assert await ledger.await_reply("k", 0.1) is None  # a retry now says "success"
    else:  # the claim and the cancel crossed: answered passively
        assert passive == "答案"
        assert await ledger.await_reply("k", 0.1) == "答案"  # WeChat's retry gets the same answer
    assert await ledger.claim_unsent("k") is None  # either way, claimed exactly once


async def test_a_cancelled_waiter_leaves_the_reply_to_the_owner(ledger):
    await ledger.begin("k")
    waiting = asyncio.create_task(ledger.await_reply("k", 1.0))
    await asyncio.sleep(0.05)
    waiting.cancel()
    await asyncio.sleep(0.05)
    assert await ledger.finish("k", "答案") is True


async def test_an_answer_the_api_would_not_take_goes_to_a_later_retry(ledger):
    await ledger.begin("k")
    assert await ledger.finish("k", "答案") is True
    await ledger.mark_undelivered("k")
    assert await ledger.claim_unsent("k") is None  # never handed to the API a second time …
    assert await ledger.await_reply("k", 0.1) == "答案"  # … but WeChat's retry answers with it
    assert await ledger.await_reply("k", 0.1) == "答案"


async def test_an_undelivered_answer_too_long_for_passive_stays_with_the_api(ledger):
    await ledger.begin("k")
    assert await ledger.finish("k", "长" * 3000, passive=False) is True
    await ledger.mark_undelivered("k")
    assert await ledger.await_reply("k", 0.1) is None


async def test_unknown_turns(ledger):
    assert await ledger.await_reply("nobody", 0.1) is None
    assert await ledger.claim_unsent("nobody") is None
    assert await ledger.finish("nobody", "答案") is True  # expired while running: deliver anyway


# --- only a shared ledger: replicas ---------------------------------------------------------------


async def test_replicas_racing_on_one_msgid_process_it_once(connections):
    replicas = [RedisTurnLedger(connections()) for _ in range(4)]
    for round_ in range(5):
        key = f"o1:msg{round_}"
        wins = await asyncio.gather(*(r.begin(key) for r in replicas))
        assert wins.count(True) == 1
        winner, losers = replicas[wins.index(True)], [r for r, won in zip(replicas, wins) if not won]
        waiting = [asyncio.create_task(r.await_reply(key, 2.0)) for r in [winner, *losers]]
        await asyncio.sleep(0.1)
        assert await winner.finish(key, f"答案{round_}") is False
        assert await asyncio.gather(*waiting) == [f"答案{round_}"] * len(replicas)  # identical everywhere
        assert await losers[0].claim_unsent(key) is None


async def test_another_replicas_answer_reaches_a_waiter_by_polling(connections):
    owner, other = RedisTurnLedger(connections()), RedisTurnLedger(connections(), poll=0.02)
    assert await owner.begin("k") and not await other.begin("k")
    started = time.monotonic()
    waiting = asyncio.create_task(other.await_reply("k", 3.0))
    await asyncio.sleep(0.2)
    assert await owner.finish("k", "答案") is False
    assert await waiting == "答案" and time.monotonic() - started < 1.0


async def test_an_api_delivery_on_one_replica_is_not_repeated_on_another(connections):
    owner, other = RedisTurnLedger(connections()), RedisTurnLedger(connections())
    await owner.begin("k")
    assert await other.await_reply("k", 0.01) is None
    assert await owner.finish("k", "答案") is True
    assert await other.await_reply("k", 1.0) is None and await other.claim_unsent("k") is None


async def test_a_waiter_that_died_stops_counting_after_its_deadline(connections):
    owner, dead = RedisTurnLedger(connections()), RedisTurnLedger(connections())
    await owner.begin("k")
    # a replica registered as a waiter (deadline 300 ms) and died before leaving
    await dead.redis.run(_JOIN, dead._keys("k"), ["ghost", 300, 10_000])
    assert await owner.finish("k", "答案") is False
    assert await owner.claim_unsent("k") is None  # it might still answer passively …
    await asyncio.sleep(0.4)
    assert await owner.claim_unsent("k") == "答案"  # … and after its deadline it cannot: the owner sends it
    assert await owner.await_reply("k", 0.1) is None


async def test_a_waiter_back_after_its_budget_claims_nothing_and_leaves_it_to_the_api(connections):
    """The answer came while the waiter was counted, but its replica was too busy to return in time."""
    owner, busy = RedisTurnLedger(connections()), RedisTurnLedger(connections())
    await owner.begin("k")
    joined = await busy.redis.run(_JOIN, busy._keys("k"), ["w", 50 + 2000, 10_000])  # 50 ms budget
    assert await owner.finish("k", "答案") is False  # counted as waiting
    await asyncio.sleep(0.1)
    assert await busy.redis.run(_LEAVE, busy._keys("k"), ["w", int(joined[1]) + 50]) is None  # too late
    assert await busy.claim_unsent("k") == "答案"  # so the caller sends it through the API, once
    assert await owner.claim_unsent("k") is None and await owner.await_reply("k", 0.1) is None


async def test_turns_expire_and_keys_are_namespaced(connections, redis_prefix):
    connection, key = connections(), f"o1:{uuid.uuid4().hex}"
    ledger = RedisTurnLedger(connection, ttl=0.3)
    assert await ledger.begin(key) and not await ledger.begin(key)
    await ledger.finish(key, "答案")
    keys = [k async for k in connection.client().scan_iter(match=f"*{key}*")]
    assert len(keys) == 2 and all(k.startswith(redis_prefix + "turn:{" + key + "}") for k in keys)
    for k in keys:
        assert 0 < await connection.client().pttl(k) <= 300
    await asyncio.sleep(0.4)
    assert await ledger.begin(key)


async def test_memory_ledger_entries_expire():
    now = [0.0]
    ledger = MemoryTurnLedger(ttl=300, clock=lambda: now[0])
    assert await ledger.begin("k")
    now[0] = 299
    assert not await ledger.begin("k")
    now[0] = 301
    assert await ledger.begin("k")


# --- options --------------------------------------------------------------------------------------


async def test_options_are_remembered_per_openid_until_replaced(options):
    await options.remember("a", ["/p1", "/p2"])
    assert await options.payload("a", 2) == "/p2"
    assert await options.payload("a", 3) is None and await options.payload("a", 0) is None
    assert await options.payload("b", 1) is None
    await options.remember("a", [])  # the last reply had no options: old numbers mean nothing now
    assert await options.payload("a", 1) is None
    await options.remember("a", ['/faq{"faq_topic": "材料"}'])
    assert await options.payload("a", 1) == '/faq{"faq_topic": "材料"}'


async def test_memory_options_expire():
    now = [0.0]
    store = MemoryOptionsStore(ttl=60, clock=lambda: now[0])
    await store.remember("a", ["/p3"])
    now[0] = 61
    assert await store.payload("a", 1) is None


async def test_redis_options_are_shared_and_expire(connections):
    one, two = RedisOptionsStore(connections(), ttl=0.3), RedisOptionsStore(connections(), ttl=0.3)
    await one.remember("a", ["/p1"])
    assert await two.payload("a", 1) == "/p1"  # the number may reach another replica
    await asyncio.sleep(0.4)
    assert await two.payload("a", 1) is None


# --- the access token -----------------------------------------------------------------------------


async def test_the_token_is_shared_and_only_its_own_failure_invalidates_it(connections):
    one, two = RedisTokenCache(connections(), "wx1"), RedisTokenCache(connections(), "wx1")
    assert await one.get() is None
    await one.put("tok-1", 60)
    assert await two.get() == "tok-1"
    assert 0 < await two.redis.client().pttl(two.key) <= 60_000
    await two.put("tok-2", 60)  # replaced elsewhere …
    await one.invalidate("tok-1")  # … so a late 40001 for the old token changes nothing
    assert await one.get() == "tok-2"
    await one.invalidate("tok-2")
    assert await two.get() is None
    assert await RedisTokenCache(connections(), "wx-other").get() is None


async def test_one_replica_at_a_time_refreshes_the_token(connections):
    one, two = RedisTokenCache(connections(), "wx1"), RedisTokenCache(connections(), "wx1")
    assert await one.lock_refresh() and not await two.lock_refresh()
    await two.unlock_refresh()  # not its lock: nothing happens
    assert not await two.lock_refresh()
    await one.unlock_refresh()
    assert await two.lock_refresh()


async def test_replicas_fetch_one_token_between_them(connections, fake_wechat):
    apis = [WeChatApi(fake_wechat.base, "wx0123456789abcdef", "e2e-secret",
                      tokens=RedisTokenCache(connections(), "wx0123456789abcdef")) for _ in range(3)]
    await asyncio.gather(*(api.send_text(f"o{i}", "你好") for i, api in enumerate(apis)))
    assert fake_wechat.tokens_issued == ["tok-1"] and len(fake_wechat.sent) == 3


async def test_memory_token_expires():
    now = [0.0]
    cache = MemoryTokenCache(clock=lambda: now[0])
    await cache.put("tok", 100)
    assert await cache.get() == "tok"
    now[0] = 100
    assert await cache.get() is None


# --- undelivered answers --------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def undelivered(request: pytest.FixtureRequest):
    if request.param == "memory":
        return MemoryUndeliveredLog(max_entries=3)
    return RedisUndeliveredLog(request.getfixturevalue("connections")(), max_entries=3)


async def test_undelivered_answers_are_kept_newest_first_and_bounded(undelivered):
    log = undelivered
    for i in range(5):
        await log.record({"key": f"o1:{i}", "openid": "o1", "text": f"答案{i}"})
    assert [e["key"] for e in await log.recent()] == ["o1:4", "o1:3", "o1:2"]
    assert (await log.recent(1))[0]["text"] == "答案4"
