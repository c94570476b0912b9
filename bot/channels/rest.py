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


def harden_sanic() -> None:
    """Make Sanic 21.12 (pinned by Rasa 3.6) answer 400, not 500 or nothing, to two malformed headers,
    on every route of the server (later Sanic versions do this themselves).

    - `Content-Length`: parsed with a bare `int()`, so `abc` got a 500, and `-1` sent the body reader
      into a busy loop that blocked the event loop: one request stopped the whole server (every
      channel, `/status` included).
    - `Accept`: a bad q-value (`*/*;q=abc`) raised inside the error handler, so every 4xx became a 500.

    Applied from a `before_server_start` listener: Sanic recompiles `Http.http1_request_header` at
    startup ("touchup") and would drop a patch made earlier."""
    import sanic.request
    from sanic.exceptions import InvalidUsage
    from sanic.http import Http

    parse = Http.http1_request_header
    if getattr(parse, "hardened", False):
        return

    async def http1_request_header(self: Http) -> None:
        try:
            await parse(self)
        except ValueError:  # int() of a Content-Length that is not a number
            self.keep_alive = False
            raise InvalidUsage("Bad Request: invalid Content-Length") from None
        if self.request_body is True and self.request_bytes_left < 0:
            self.keep_alive = False
            self.request_body, self.request_bytes_left = None, 0  # and nothing for Sanic to drain
            raise InvalidUsage("Bad Request: invalid Content-Length")

    parse_accept = sanic.request.parse_accept

    def lenient_parse_accept(accept: str) -> Any:
        try:
            return parse_accept(accept)
        except ValueError:
            return parse_accept("*/*")

    http1_request_header.hardened = True  # type: ignore[attr-defined]
    Http.http1_request_header = http1_request_header  # type: ignore[assignment]
    sanic.request.parse_accept = lenient_parse_accept  # type: ignore[assignment]


async def _harden_sanic_on_start(_app: Any, _loop: Any) -> None:
    harden_sanic()


class CheckedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        blueprint = super().blueprint(never_silent(on_new_message))
        # Every Rasa server here serves this channel, so the fix for all routes is applied from here.
        blueprint.listener("before_server_start")(_harden_sanic_on_start)

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
