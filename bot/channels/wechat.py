"""The WeChat Official Account (公众号) bridge: a Rasa input channel at `/webhooks/wechat/webhook`.

WeChat calls this URL with a `GET` once to verify it (signature over token/timestamp/nonce, we echo
`echostr`) and then `POST`s every user message as XML, in plain mode or in safe mode (AES, with
`msg_signature`). Every request's signature is checked (constant time, timestamps older than
`MAX_CLOCK_SKEW` refused) and its body is size-capped and parsed without DOCTYPE/ENTITY
declarations before anything reaches Rasa; a forged, stale or malformed request gets a 4xx.

WeChat gives up on a reply after 5 s and retries (3 times). A turn that Rasa answers within
`passive_budget` (4 s) is answered passively, in the HTTP response; otherwise the response is
"success" and the answer follows through the customer-service message API, retried with backoff
(`wechat_api`); an answer it never takes is logged, kept in the `UndeliveredLog` and left for a
retry of the message to take passively. Retries of a message (same `MsgId`) are processed once and
get the same answer (`TurnLedger`). Every outgoing text is plain text (`render.to_plain`: bullets •,
steps ①②③, no markdown marks); buttons become numbered options 【1】【2】 in a block of their own,
and the user can answer with the number (`OptionsStore`); a typed ② is a step, not an option.

One Rasa process keeps that state in memory. Several replicas behind a load balancer must share it:
set `REDIS_URL` (or `redis_url`) and the ledger, the options and the access token live in Redis
(`wechat_redis`), so a retry landing on another replica is still processed once.

Modules: `wechat_protocol` (pure: signatures, XML, rendering), `wechat_state` (interfaces + memory),
`wechat_redis` (the same on Redis), `wechat_api` (customer-service API), `wechat_config` (settings
and where the state lives), this one (the channel).

Configured only through `from_credentials`: each key falls back to an environment variable.

    bot.channels.wechat.WeChatInput:
      token: …           # WECHAT_TOKEN       (required: without it every request is refused)
      app_id: …          # WECHAT_APP_ID      (required for safe mode and the customer-service API)
      app_secret: …      # WECHAT_APP_SECRET  (required for the customer-service API)
      aes_key: …         # WECHAT_AES_KEY     (43 characters; set = safe mode)
      api_base: …        # WECHAT_API_BASE    (default https://api.weixin.qq.com)
      passive_budget: 4  # WECHAT_PASSIVE_BUDGET seconds to wait for Rasa before answering "success"
      accept_plaintext:  # default: true without an AES key, false with one
      redis_url: …       # REDIS_URL          (e.g. redis://127.0.0.1:6379/0; unset = in-process state)
      redis_prefix: …    # WECHAT_REDIS_PREFIX (default beian:wechat:; keys are namespaced under it)
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import BaseEvent
from wechatpy.messages import TextMessage, VoiceMessage
from wechatpy.replies import TextReply

from bot.channels.rest import FAILURE_REPLY, never_silent
from bot.channels.wechat_api import API_BASE, TOKEN_EXPIRED, WeChatApi, WeChatApiError
from bot.channels.wechat_config import PASSIVE_BUDGET, WeChatConfig, WeChatState, make_state
from bot.channels.wechat_protocol import (
    CUSTOM_CHUNK_CHARS,
    MAX_BODY_BYTES,
    MAX_CLOCK_SKEW,
    NON_TEXT_REPLY,
    OPTION_LABEL,
    OPTIONS_HEADER,
    PASSIVE_MAX_BYTES,
    WELCOME_MESSAGE,
    Rejected,
    Rendered,
    cdata_safe,
    check_body,
    check_query,
    fits,
    fits_passive,
    option_number,
    parse_wechat_message,
    parse_xml,
    raw_text,
    render,
    sign,
    signature_ok,
    split_text,
    timestamp_fresh,
    to_plain,
)
from bot.channels.wechat_state import (
    OPTIONS_TTL,
    RETRY_TTL,
    MemoryOptionsStore,
    MemoryTokenCache,
    MemoryTurnLedger,
    MemoryUndeliveredLog,
    OptionsStore,
    TokenCache,
    TurnLedger,
    UndeliveredLog,
)
from bot.config import get_settings
from bot.storage.privacy import mask_text

logger = logging.getLogger(__name__)

SWEEP_MARGIN = 1.0  # seconds past the last waiter's deadline before the owner sweeps (shared ledgers)

__all__ = [  # what tests and other modules import from here
    "API_BASE", "CUSTOM_CHUNK_CHARS", "MAX_BODY_BYTES", "MAX_CLOCK_SKEW", "NON_TEXT_REPLY", "OPTION_LABEL",
    "OPTIONS_HEADER",
    "OPTIONS_TTL", "PASSIVE_BUDGET", "PASSIVE_MAX_BYTES", "RETRY_TTL", "TOKEN_EXPIRED", "WELCOME_MESSAGE",
    "MemoryOptionsStore", "MemoryTokenCache", "MemoryTurnLedger", "MemoryUndeliveredLog", "OptionsStore",
    "Rejected", "Rendered", "TokenCache", "TurnLedger", "UndeliveredLog", "WeChatApi", "WeChatApiError",
    "WeChatConfig", "WeChatInput", "WeChatState", "cdata_safe", "check_body", "check_query", "fits",
    "fits_passive", "make_state", "option_number", "parse_wechat_message", "parse_xml", "raw_text",
    "read_capped", "render", "sign", "signature_ok", "split_text", "timestamp_fresh", "to_plain",
]


class WeChatInput(InputChannel):
    """WeChat Official Account messages in, answers out (passively or via the customer-service API)."""

    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> WeChatInput:
        return cls(WeChatConfig.from_credentials(credentials))

    def __init__(self, config: WeChatConfig, ledger: Optional[TurnLedger] = None,
                 options: Optional[OptionsStore] = None, api: Optional[WeChatApi] = None,
                 state: Optional[WeChatState] = None):
        self.config = config
        self.crypto = WeChatCrypto(config.token, config.aes_key, config.app_id) if config.aes_key else None
        self.state = state or make_state(config)
        self.ledger = ledger or self.state.ledger
        self.options = options or self.state.options
        self.undelivered = self.state.undelivered
        self.api = api or WeChatApi(config.api_base, config.app_id, config.app_secret, tokens=self.state.tokens)
        self._tasks: set[asyncio.Task] = set()
        if not config.token:
            logger.warning("wechat: WECHAT_TOKEN is not set; /webhooks/wechat/webhook refuses every request")

    # -- requests

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        wechat = Blueprint("wechat_webhook", __name__)
        handle = never_silent(on_new_message)

        @wechat.route("/", methods=["GET"])
        async def health(_: Request) -> response.HTTPResponse:
            return response.json({"status": "ok"})

        @wechat.route("/webhook", methods=["GET"], name="verify")
        async def verify(request: Request) -> response.HTTPResponse:
            try:
                check_query(self.config.token, request.args, time.time())
            except Rejected as e:
                logger.info("wechat: verification refused: %s", e.reason)
                return response.text(e.reason, status=e.status)
            return response.text(request.args.get("echostr", ""))

        @wechat.route("/webhook", methods=["POST"], name="receive", stream=True)
        async def receive(request: Request) -> response.HTTPResponse:
            try:
                return await self._receive(request, handle)
            except Rejected as e:
                logger.info("wechat: request refused (%s): %s", e.status, e.reason)
                return response.text(e.reason, status=e.status)

        @wechat.listener("after_server_stop")
        async def close_state(*_: Any) -> None:
            if self.state.close is not None:
                await self.state.close()

        return wechat

    async def _receive(self, request: Request, handle: Callable[[UserMessage], Awaitable[Any]]
                       ) -> response.HTTPResponse:
        args = request.args
        check_query(self.config.token, args, time.time())
        raw = await read_capped(request, MAX_BODY_BYTES)
        encrypted = (args.get("encrypt_type") or "raw").lower() == "aes"
        body: bytes | str = raw
        if encrypted:
            body = self._decrypt(raw, args)
        elif not self.config.accept_plaintext:
            raise Rejected(403, "plaintext messages are refused in safe mode")
        message = parse_wechat_message(body)
        try:
            reply = await self._dispatch(message, handle)
        except RedisError as e:
            # The shared state (and Rasa's lock store with it) is down: say so, with the hotline,
            # rather than a 500 that WeChat would retry into the same outage.
            logger.error("wechat: shared state unavailable (%s); told %s to try later", type(e).__name__,
                         message.source)
            reply = FAILURE_REPLY.format(hotline=get_settings().hotline)
        if reply is None:
            return response.text("success")
        xml = TextReply(message=message, content=cdata_safe(reply)).render()
        if encrypted:
            assert self.crypto is not None  # _decrypt refused the message otherwise
            xml = self.crypto.encrypt_message(xml, args.get("nonce"), str(int(time.time())))
        return response.text(xml, content_type="application/xml; charset=utf-8")

    def _decrypt(self, body: bytes, args: Mapping[str, Any]) -> str:
        if self.crypto is None:
            raise Rejected(400, "safe mode is not configured (WECHAT_AES_KEY)")
        outer = parse_xml(body)
        encrypt = outer.get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt:
            raise Rejected(400, "no Encrypt element")
        timestamp, nonce, msg_signature = args.get("timestamp"), args.get("nonce"), args.get("msg_signature")
        if not signature_ok(self.config.token, msg_signature, timestamp, nonce, encrypt):
            raise Rejected(403, "bad msg_signature")
        try:
            return self.crypto.decrypt_message({"Encrypt": encrypt}, msg_signature, timestamp, nonce)
        except Exception as e:  # bad base64/padding, another app's message
            raise Rejected(400, f"cannot decrypt ({type(e).__name__})") from None

    async def _dispatch(self, message: Any, handle: Callable[[UserMessage], Awaitable[Any]]) -> Optional[str]:
        """The passive reply text for `message`, or None for "success"."""
        openid = message.source
        if isinstance(message, BaseEvent):
            if message.event not in ("subscribe", "subscribe_scan"):
                return None  # unsubscribe, menu clicks, location reports…: nothing to say
            key = f"{openid}:event:{message._data.get('CreateTime')}:{message.event}"
            logger.info("wechat: %s subscribed", openid)
            return await self._answer(key, openid, WELCOME_MESSAGE, handle)
        if isinstance(message, TextMessage):
            text = message.content or ""
        elif isinstance(message, VoiceMessage) and message.recognition:
            text = message.recognition  # speech recognition switched on in the account settings
        else:
            logger.info("wechat: %s sent a %s message", openid, message.type)
            return NON_TEXT_REPLY
        msg_id = message._data.get("MsgId") or f"t{message._data.get('CreateTime')}"
        number = option_number(text)
        if number is not None:
            payload = await self.options.payload(openid, number)
            if payload is not None:
                text = payload
        logger.info("wechat: message %s from %s: %s", msg_id, openid, mask_text(text[:200]))
        return await self._answer(f"{openid}:{msg_id}", openid, text, handle)

    async def _answer(self, key: str, openid: str, text: str,
                      handle: Callable[[UserMessage], Awaitable[Any]]) -> Optional[str]:
        if await self.ledger.begin(key):
            self._spawn(self._run_turn(key, openid, text, handle))
        else:
            logger.info("wechat: retry of %s: answering it once", key)
        try:
            reply = await self.ledger.await_reply(key, self.config.passive_budget)
        except asyncio.CancelledError:  # WeChat hung up while we waited
            await self._claim_unsent(key, openid)
            raise
        if reply is None and self.ledger.shared:
            # Counted as a waiter when the answer came, but back (on this busy replica) only after
            # the budget: nobody may be left to send it passively.
            await self._claim_unsent(key, openid)
        return reply

    async def _claim_unsent(self, key: str, openid: str) -> None:
        unsent = await self.ledger.claim_unsent(key)
        if unsent is not None:
            self._spawn(self._deliver(key, openid, unsent))

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        """Run `coroutine` apart from the request (kept referenced until done)."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the turn, independent of the request that started it

    async def _run_turn(self, key: str, openid: str, text: str,
                        handle: Callable[[UserMessage], Awaitable[Any]]) -> None:
        out = CollectingOutputChannel()
        try:
            await handle(UserMessage(text, out, openid, input_channel=self.name()))
        except Exception:
            logger.exception("wechat: turn %s failed", key)
        try:
            rendered = render(out.messages)
            if not rendered.text:
                rendered = Rendered(FAILURE_REPLY.format(hotline=get_settings().hotline))
            await self.options.remember(openid, rendered.payloads)
            if await self.ledger.finish(key, rendered.text, passive=fits_passive(rendered.text)):
                await self._deliver(key, openid, rendered.text)
            elif self.ledger.shared:
                await self._sweep(key, openid)
        except Exception:
            logger.exception("wechat: could not deliver the answer to %s", key)

    async def _sweep(self, key: str, openid: str) -> None:
        """A waiter on another replica took the answer over; should it die before sending it, the
        answer is claimed for the API once every waiter's deadline has passed."""
        grace = getattr(self.ledger, "grace", 0.0)
        await asyncio.sleep(self.config.passive_budget + grace + SWEEP_MARGIN)
        unsent = await self.ledger.claim_unsent(key)
        if unsent is not None:
            logger.warning("wechat: nobody sent the answer to %s passively; sending it through the API", key)
            await self._deliver(key, openid, unsent)

    async def _deliver(self, key: str, openid: str, text: str) -> None:
        """Through the customer-service API (retried inside); when it gives up, the answer is logged
        (masked), kept in the undelivered log, and left for a retry of the message to take passively."""
        error: Exception
        try:
            await self.api.send_text(openid, text)
            logger.info("wechat: answer to %s sent through the customer-service API", key)
            return
        except WeChatApiError as e:
            error, attempts = e, e.attempts
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:  # the token request itself
            error, attempts = e, 1
        logger.error("wechat: gave up on the answer to %s after %d attempt(s) (%s): %s",
                     key, attempts, error, mask_text(text[:200]))
        try:
            await self.ledger.mark_undelivered(key)
            await self.undelivered.record({"key": key, "openid": openid, "text": text, "error": str(error),
                                           "errcode": getattr(error, "errcode", None), "attempts": attempts,
                                           "at": int(time.time())})
        except Exception:
            logger.exception("wechat: could not record the undelivered answer to %s", key)


async def read_capped(request: Request, max_bytes: int) -> bytes:
    """The request body, or `Rejected(413)` as soon as it is known to exceed `max_bytes`."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise Rejected(413, f"body over {max_bytes} bytes")
    if request.stream is None:  # not streamed (e.g. a test client): Sanic read it already
        body = request.body or b""
    else:
        # Sanic stops reading (and drains at most this much) once the cap is passed.
        request.stream.request_max_size = min(request.stream.request_max_size, max_bytes + 1)
        chunks, size = [], 0
        try:
            async for chunk in request.stream:
                size += len(chunk)
                if size > max_bytes:
                    raise Rejected(413, f"body over {max_bytes} bytes")
                chunks.append(chunk)
        except Rejected:
            raise
        except Exception as e:  # PayloadTooLarge from Sanic itself, bad chunked encoding
            if getattr(e, "status_code", None) == 413:
                raise Rejected(413, f"body over {max_bytes} bytes") from None
            raise Rejected(400, "unreadable body") from None
        body = b"".join(chunks)
    if len(body) > max_bytes:
        raise Rejected(413, f"body over {max_bytes} bytes")
    return body
