"""The customer-service API against the fake WeChat: retries with backoff, no retry where it cannot
help, and what the channel does with an answer the API never took."""
from __future__ import annotations

import asyncio
import time

import pytest
import xmltodict

from bot.channels.wechat import WeChatApi, WeChatApiError, WeChatConfig, WeChatInput, make_state
from bot.channels.wechat_redis import _JOIN, RedisConnection, RedisTurnLedger, RedisUndeliveredLog
from bot.serve import free_port
from tests.channels.wechat_requests import FakeRequest, text_xml

APP_ID, APP_SECRET, TOKEN = "wx0123456789abcdef", "e2e-secret", "api-token"
DELAYS = (0.05, 0.2)


def api_for(fake, delays=DELAYS) -> WeChatApi:
    return WeChatApi(fake.base, APP_ID, APP_SECRET, retry_delays=delays)


@pytest.mark.parametrize("codes", [(-1,), (-1, 45009), (45009, -1)])
async def test_busy_wechat_is_retried_with_backoff_until_it_takes_the_message(fake_wechat, codes):
    fake_wechat.fail_sends(*codes)
    started = time.monotonic()
    await api_for(fake_wechat).send_text("oUser1", "答案")
    assert len(fake_wechat.attempts_to("oUser1")) == len(codes) + 1
    assert [r["body"]["text"]["content"] for r in fake_wechat.sent_to("oUser1")] == ["答案"]
    assert time.monotonic() - started >= sum(DELAYS[:len(codes)])  # it waited between attempts


@pytest.mark.parametrize("code", [45015, 40003, 45047])
async def test_errors_that_cannot_succeed_are_not_retried(fake_wechat, code):
    fake_wechat.fail_sends(code)
    with pytest.raises(WeChatApiError) as e:
        await api_for(fake_wechat).send_text("oUser1", "答案")
    assert e.value.errcode == code and e.value.attempts == 1
    assert len(fake_wechat.attempts_to("oUser1")) == 1 and fake_wechat.sent_to("oUser1") == []


async def test_it_gives_up_after_three_attempts(fake_wechat):
    fake_wechat.fail_sends(-1, -1, -1, -1)
    with pytest.raises(WeChatApiError) as e:
        await api_for(fake_wechat).send_text("oUser1", "答案")
    assert e.value.errcode == -1 and e.value.attempts == 3
    assert len(fake_wechat.attempts_to("oUser1")) == 3 and fake_wechat.sent_to("oUser1") == []


async def test_an_unreachable_api_is_retried_then_reported():
    api = WeChatApi(f"http://127.0.0.1:{free_port()}", APP_ID, APP_SECRET, retry_delays=(0.01, 0.01))
    with pytest.raises(WeChatApiError) as e:
        await api.send_text("oUser1", "答案")
    assert e.value.attempts == 3 and "ClientConnectorError" in str(e.value)


async def test_an_expired_token_is_refreshed_once_without_backoff(fake_wechat):
    api = api_for(fake_wechat, delays=(5.0, 5.0))  # a backoff would make this test slow
    await api.send_text("oUser1", "一")
    fake_wechat.expire_token()
    started = time.monotonic()
    await api.send_text("oUser1", "二")
    assert time.monotonic() - started < 2.0
    assert len(fake_wechat.rejected) == 1 and fake_wechat.tokens_issued == ["tok-1", "tok-2"]
    assert fake_wechat.sent_to("oUser1")[-1]["token"] == "tok-2"


async def test_only_the_failing_chunk_is_retried(fake_wechat):
    lines = [f"第{i}行：" + "备" * 50 for i in range(20)]  # two customer-service messages
    api = api_for(fake_wechat)
    await api.send_text("oUser1", "\n".join(lines))
    whole = [r["body"]["text"]["content"] for r in fake_wechat.sent_to("oUser1")]
    assert len(whole) == 2
    fake_wechat.sent.clear()
    fake_wechat.fail_sends(0, -1)  # the first chunk goes through, the second fails once …
    await api.send_text("oUser1", "\n".join(lines))
    assert [r["body"]["text"]["content"] for r in fake_wechat.sent_to("oUser1")] == whole  # … not sent twice
    assert len(fake_wechat.attempts_to("oUser1")) == 2 + 3


# --- the channel when the API gives up ------------------------------------------------------------






async def echo(message):
    await asyncio.sleep(0.05)  # longer than the passive budget below
    await message.output_channel.send_text_message(message.sender_id, f"已记录您的手机 {message.text}")


@pytest.fixture(params=["memory", "redis"])
async def slow_channel(request, fake_wechat):
    """A channel whose every answer misses the passive budget, on in-process or Redis state."""
    config = WeChatConfig.from_credentials({"token": TOKEN, "app_id": APP_ID, "app_secret": APP_SECRET,
                                            "api_base": fake_wechat.base, "passive_budget": 0.001}, {})
    connection = None
    state = make_state(config)
    if request.param == "redis":
        connection = RedisConnection(request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix"))
        state.ledger, state.undelivered = RedisTurnLedger(connection), RedisUndeliveredLog(connection)
    channel = WeChatInput(config, state=state, api=WeChatApi(fake_wechat.base, APP_ID, APP_SECRET,
                                                             retry_delays=DELAYS))
    yield channel
    if connection is not None:
        await connection.close()


async def settle(channel: WeChatInput, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while channel._tasks and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


async def test_an_answer_the_api_never_takes_is_logged_masked_kept_and_given_to_a_retry(
        slow_channel, fake_wechat, caplog):
    caplog.set_level("INFO", logger="bot.channels.wechat")
    fake_wechat.fail_sends(-1, -1, -1)
    xml = text_xml("13812345678", "oUser2", "7001")
    r = await slow_channel._receive(FakeRequest(xml, TOKEN), echo)
    assert r.body == b"success"
    await settle(slow_channel)
    assert len(fake_wechat.attempts_to("oUser2")) == 3 and fake_wechat.sent_to("oUser2") == []
    [entry] = await slow_channel.undelivered.recent()
    assert (entry["key"], entry["openid"], entry["attempts"]) == ("oUser2:7001", "oUser2", 3)
    assert entry["text"] == "已记录您的手机 13812345678"
    assert "gave up" in caplog.text and "138****5678" in caplog.text and "13812345678" not in caplog.text
    # WeChat retries the message: the retry answers with it passively, and nothing is sent twice
    retry = await slow_channel._receive(FakeRequest(xml, TOKEN), echo)
    assert xmltodict.parse(retry.body)["xml"]["Content"] == "已记录您的手机 13812345678"
    await settle(slow_channel)
    assert len(fake_wechat.attempts_to("oUser2")) == 3


async def test_45015_is_given_up_at_once_and_kept(slow_channel, fake_wechat):
    fake_wechat.fail_sends(45015)
    await slow_channel._receive(FakeRequest(text_xml("你好", "oUser3", "7002"), TOKEN), echo)
    await settle(slow_channel)
    assert len(fake_wechat.attempts_to("oUser3")) == 1
    [entry] = await slow_channel.undelivered.recent()
    assert entry["errcode"] == 45015 and entry["attempts"] == 1


async def test_a_slow_answer_reaches_the_user_after_wechat_was_busy(slow_channel, fake_wechat):
    fake_wechat.fail_sends(45009)
    await slow_channel._receive(FakeRequest(text_xml("你好", "oUser4", "7003"), TOKEN), echo)
    await settle(slow_channel)
    assert [r["body"]["text"]["content"] for r in fake_wechat.sent_to("oUser4")] == ["已记录您的手机 你好"]
    assert len(fake_wechat.attempts_to("oUser4")) == 2 and await slow_channel.undelivered.recent() == []


async def test_an_answer_left_to_a_waiter_that_died_is_swept_to_the_api(fake_wechat, redis_url, redis_prefix):
    """Another replica's request was waiting to answer passively and died: the owner sends it."""
    config = WeChatConfig.from_credentials({"token": TOKEN, "app_id": APP_ID, "app_secret": APP_SECRET,
                                            "api_base": fake_wechat.base, "passive_budget": 0.05}, {})
    connection = RedisConnection(redis_url, redis_prefix)
    state = make_state(config)
    state.ledger = RedisTurnLedger(connection, grace=0.1)
    channel = WeChatInput(config, state=state)

    async def rasa_while_a_replica_waits_and_dies(message):
        key = f"{message.sender_id}:7004"
        await connection.run(_JOIN, state.ledger._keys(key), ["ghost", 300, 10_000])  # never leaves
        await asyncio.sleep(0.1)  # past the passive budget of the request itself
        await message.output_channel.send_text_message(message.sender_id, "答案")

    try:
        r = await channel._receive(FakeRequest(text_xml("你好", "oUser5", "7004"), TOKEN), rasa_while_a_replica_waits_and_dies)
        assert r.body == b"success"
        assert fake_wechat.sent_to("oUser5") == []  # the ghost still counts …
        await settle(channel)
        assert [m["body"]["text"]["content"] for m in fake_wechat.sent_to("oUser5")] == ["答案"]  # … then not
    finally:
        await connection.close()
