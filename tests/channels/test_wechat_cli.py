"""`python -m bot wechat undelivered` reads what the bridge recorded in the real Redis."""
import asyncio

from bot.channels.wechat_redis import RedisConnection, RedisUndeliveredLog
from bot.cli import main


def test_undelivered_answers_are_listed_newest_first_and_masked(redis_url, redis_prefix, monkeypatch, capsys):
    async def record():
        redis = RedisConnection(redis_url, redis_prefix)
        log = RedisUndeliveredLog(redis)
        await log.record({"key": "oA:1", "openid": "oA", "text": "旧的回答", "errcode": 45015, "attempts": 1,
                          "at": 1764460800})
        await log.record({"key": "oB:2", "openid": "oB", "text": "请致电 13812345678", "errcode": -1,
                          "attempts": 3, "at": 1764464400})
        await redis.close()

    asyncio.run(record())
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("WECHAT_REDIS_PREFIX", redis_prefix)
    assert main(["wechat", "undelivered"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 undelivered answer(s)")
    assert out.index("oB:2") < out.index("oA:1")  # newest first
    assert "138****5678" in out and "13812345678" not in out
    assert "2025-11-30 08:00  oA  errcode 45015" in out  # 00:00 UTC is 08:00 China time
    assert main(["wechat", "undelivered", "--full", "--limit", "1"]) == 0
    full = capsys.readouterr().out
    assert "13812345678" in full and "oA:1" not in full


def test_without_redis_it_says_why(monkeypatch, capsys):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert main(["wechat", "undelivered"]) == 2
    assert "REDIS_URL" in capsys.readouterr().out
