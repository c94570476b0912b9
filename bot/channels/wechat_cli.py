"""`python -m bot wechat undelivered`: the answers the customer-service API would not take.

The bridge keeps them (newest first, capped) in Redis under `<WECHAT_REDIS_PREFIX>undelivered` so
that nobody's answer is silently lost; this is how a person reads them to follow up by hand. Texts
are masked unless `--full` is given (for whoever resends them).
"""
from __future__ import annotations

import argparse
import asyncio
from datetime import datetime


def register(subparsers: argparse._SubParsersAction) -> None:
    wechat = subparsers.add_parser("wechat", help="the WeChat bridge's shared state (REDIS_URL)")
    sub = wechat.add_subparsers(dest="wechat_command", required=True)
    und = sub.add_parser("undelivered", help="answers the customer-service API did not take, newest first")
    und.add_argument("--limit", type=int, default=50)
    und.add_argument("--full", action="store_true", help="print the texts unmasked")
    und.set_defaults(func=_undelivered)


def _undelivered(args: argparse.Namespace) -> int:
    from bot.channels.wechat import WeChatConfig, make_state

    config = WeChatConfig.from_credentials(None)
    if not config.redis_url:
        print("REDIS_URL is not set: without it each server keeps undelivered answers in its own memory")
        return 2
    entries = asyncio.run(_recent(make_state(config), args.limit))
    print(render(entries, full=args.full))
    return 0


async def _recent(state, limit: int) -> list:
    try:
        return await state.undelivered.recent(limit)
    finally:
        if state.close is not None:
            await state.close()


def render(entries: list, full: bool = False) -> str:
    """One block per entry: when (China time), to whom, why, and the text."""
    from bot.storage.models import CHINA_TZ
    from bot.storage.privacy import mask_text

    lines = [f"{len(entries)} undelivered answer(s)"]
    for e in entries:
        when = datetime.fromtimestamp(int(e.get("at") or 0), CHINA_TZ).strftime("%Y-%m-%d %H:%M")
        text = str(e.get("text", ""))
        lines.append(f"- {when}  {e.get('openid')}  errcode {e.get('errcode')}  attempts {e.get('attempts')}"
                     f"  ({e.get('key')})")
        lines.append("  " + (text if full else mask_text(text)).replace("\n", "\n  "))
    return "\n".join(lines)
