"""Rasa's REST channel with its input checked first: a bad request gets a 4xx, never a 500.

Rasa's own `RestInput` assumes a JSON object with a string `message`; `[]`, `"text"` or a list
as `sender` make it raise. Served under the same path (`/webhooks/rest/webhook`).
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

# Every turn of ours says something (rules cover every intent, forms ask, the FAQ action always
# answers), so a turn that produced nothing failed somewhere: an action server that is down, a
# timeout, an exception Rasa logged and swallowed. The user hears that instead of silence.
FAILURE_REPLY = "抱歉，系统刚才出了点问题，没能处理您的消息，请稍后再试。着急的话请拨打备案热线 {hotline}。"
MAX_MESSAGE_CHARS = 20_000
MAX_SENDER_CHARS = 128


def request_problem(body: Any) -> Optional[str]:
    """Why a decoded request body cannot be a user message, or None when it can."""
    if not isinstance(body, dict):
        return "the body must be a JSON object like {\"sender\": \"…\", \"message\": \"…\"}"
    message, sender, metadata = body.get("message"), body.get("sender"), body.get("metadata")
    if not isinstance(message, str):
        return "\"message\" must be a string"
    if len(message) > MAX_MESSAGE_CHARS:
        return f"\"message\" is longer than {MAX_MESSAGE_CHARS} characters"
    if sender is not None and (not isinstance(sender, str) or not 0 < len(sender) <= MAX_SENDER_CHARS):
        return f"\"sender\" must be a string of 1 to {MAX_SENDER_CHARS} characters"
    if metadata is not None and not isinstance(metadata, dict):
        return "\"metadata\" must be an object"
    return None


def decode_json(request: Request) -> tuple[Any, Optional[str]]:
    """The request's JSON body, or an explanation of why there is none."""
    try:
        return request.json, None
    except Exception:  # sanic raises InvalidUsage for bad JSON, UnicodeDecodeError for bad bytes
        return None, "the body is not valid UTF-8 JSON"


def never_silent(on_new_message: Callable[[UserMessage], Awaitable[None]]
                 ) -> Callable[[UserMessage], Awaitable[None]]:
    """Wrap Rasa's message handler so a turn that produced no reply gets the honest failure reply."""

    async def handle(message: UserMessage) -> None:
        try:
            await on_new_message(message)
        finally:
            out = message.output_channel
            if isinstance(out, CollectingOutputChannel) and not out.messages:
                from bot.config import get_settings

                await out.send_text_message(message.sender_id, FAILURE_REPLY.format(hotline=get_settings().hotline))

    return handle


class CheckedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        blueprint = super().blueprint(never_silent(on_new_message))
        # Every Rasa server here serves this channel, so the Sanic fixes for all routes (bot/patches.py,
        # guarded at start-up by bot.rasa_main) are swapped in from here once Sanic has started.
        from bot import patches

        blueprint.listener("before_server_start")(patches.sanic_listener)

        @blueprint.middleware("request")
        async def check(request: Request) -> Optional[response.HTTPResponse]:
            if request.method != "POST":
                return None
            body, problem = decode_json(request)
            problem = problem or request_problem(body)
            if problem:
                return response.json({"error": problem}, status=400)
            return None

        return blueprint
