"""The reports page beside the copilot: a Rasa input channel under `/webhooks/reports/`.

    GET /webhooks/reports/                     the page (static; asks for the agent token)
    GET /webhooks/reports/static/<file>        its script and style sheet
    GET /webhooks/reports/data?since=&until=   → {"hot", "missed", "quality", "daily", …} (bot.reports)

The data needs `Authorization: Bearer <token>` with one of the copilot's agent tokens
(COPILOT_TOKENS, checked by bot.channels.auth.TokenChecker, as the copilot does); anything else gets 401. The page holds
no secret: the token stays in the browser's sessionStorage. Texts in the data are masked (phone
numbers, e-mail addresses, order numbers) and the page shows them with textContent only.

Configured only through `from_credentials`:

    bot.channels.reports.ReportsInput:
      tokens: …     # else COPILOT_TOKENS
"""
from __future__ import annotations

import asyncio
import functools
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request

from bot.channels.auth import TokenChecker, bearer_token, parse_tokens

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "reports_static"
FILES = {"reports.js": "text/javascript; charset=utf-8", "reports.css": "text/css; charset=utf-8"}
MAX_DAYS = 366
MISSED_ROWS = 50
UNAUTHORIZED = "a valid agent token is required (Authorization: Bearer <token>)"
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}


def period_problem(since: Optional[str], until: Optional[str]) -> tuple[Any, Optional[str]]:
    """(Period, None) for acceptable `since`/`until` query values, else (None, why not)."""
    from bot.reports.period import period_from

    try:
        period = period_from(since or None, until or None)
    except ValueError as e:
        return None, str(e)
    if period.until - period.since >= timedelta(days=MAX_DAYS):
        return None, f"at most {MAX_DAYS} days at a time"
    return period, None


def report_data(since: Optional[str], until: Optional[str]) -> Dict[str, Any]:
    """The page's JSON (blocking: reads the databases; called in a worker thread)."""
    from bot.reports.build import build
    from bot.reports.turns import CHANNEL_LABELS

    period, _ = period_problem(since, until)
    data = build(period).to_json(missed_limit=MISSED_ROWS)
    data["channel_labels"] = CHANNEL_LABELS
    return data


class ReportsInput(InputChannel):
    """Read-only reports for the people who run the assistant; never a turn of a conversation."""

    @classmethod
    def name(cls) -> str:
        return "reports"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]], env: Optional[Mapping[str, str]] = None
                         ) -> ReportsInput:
        """`tokens` from the credentials, else COPILOT_TOKENS (the same agents)."""
        import os

        env = os.environ if env is None else env
        tokens = parse_tokens((credentials or {}).get("tokens")) or parse_tokens(env.get("COPILOT_TOKENS", ""))
        return cls(tokens)

    def __init__(self, tokens: tuple[str, ...] = ()):
        self.tokens = TokenChecker(tokens)
        if not tokens:
            logger.warning("reports: COPILOT_TOKENS is not set; /webhooks/reports/data refuses every request")

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        reports = Blueprint("reports_webhook", __name__)

        @reports.route("/", methods=["GET"])
        async def page(_: Request) -> response.HTTPResponse:
            return response.html((STATIC / "index.html").read_text(encoding="utf-8"), headers=HEADERS)

        @reports.route("/static/<name>", methods=["GET"])
        async def static(_: Request, name: str) -> response.HTTPResponse:
            if name not in FILES:  # a fixed list: no path ever reaches the file system from a URL
                return response.json({"error": "not found"}, status=404)
            return response.raw((STATIC / name).read_bytes(), content_type=FILES[name], headers=HEADERS)

        @reports.route("/data", methods=["GET"])
        async def data(request: Request) -> response.HTTPResponse:
            agent = self.tokens.agent(bearer_token(request.headers.get("authorization")))
            if agent is None:
                return response.json({"error": UNAUTHORIZED}, status=401,
                                     headers={**HEADERS, "WWW-Authenticate": 'Bearer realm="reports"'})
            since, until = request.args.get("since"), request.args.get("until")
            _, problem = period_problem(since, until)
            if problem:
                return response.json({"error": problem}, status=400, headers=HEADERS)
            try:
                body = await asyncio.get_running_loop().run_in_executor(
                    None, functools.partial(report_data, since, until))
            except Exception as e:
                logger.error("reports: data failed: %s: %s", type(e).__name__, e)
                return response.json({"error": "unavailable"}, status=503, headers=HEADERS)
            logger.info("reports: agent %s read %s … %s", agent, body["since"], body["until"])
            return response.json(body, headers=HEADERS)

        return reports
