"""The WeChat Official Account (公众号) bridge: a Rasa input channel at `/webhooks/wechat/webhook`.

WeChat calls this URL with a `GET` once to verify it (signature over token/timestamp/nonce, we echo
`echostr`) and then `POST`s every user message as XML, in plain mode or in safe mode (AES, with
`msg_signature`). Every request's signature is checked (constant time, timestamps older than
`MAX_CLOCK_SKEW` refused) and its body is size-capped and parsed without DOCTYPE/ENTITY
declarations before anything reaches Rasa; a forged, stale or malformed request gets a 4xx.

WeChat gives up on a reply after 5 s and retries (3 times). A turn that Rasa answers within
`passive_budget` (4 s) is answered passively, in the HTTP response; otherwise the response is
"success" and the answer follows through the customer-service message API. Retries of a message
(same `MsgId`) are processed once and get the same answer (`TurnLedger`). Buttons become numbered
options; the user can answer with the number (`OptionsStore`).

Configured only through `from_credentials`: each key falls back to an environment variable.

    bot.channels.wechat.WeChatInput:
      token: …           # WECHAT_TOKEN       (required: without it every request is refused)
      app_id: …          # WECHAT_APP_ID      (required for safe mode and the customer-service API)
      app_secret: …      # WECHAT_APP_SECRET  (required for the customer-service API)
      aes_key: …         # WECHAT_AES_KEY     (43 characters; set = safe mode)
      api_base: …        # WECHAT_API_BASE    (default https://api.weixin.qq.com)
      passive_budget: 4  # WECHAT_PASSIVE_BUDGET seconds to wait for Rasa before answering "success"
      accept_plaintext:  # default: true without an AES key, false with one
"""
from __future__ import annotations

import abc
import asyncio
import hmac
import json
import logging
import os
import re
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional, Text

import aiohttp
import xmltodict
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import BaseEvent
from wechatpy.messages import TextMessage, VoiceMessage
from wechatpy.parser import parse_message
from wechatpy.replies import TextReply
from wechatpy.utils import WeChatSigner

from bot.channels.rest import FAILURE_REPLY, never_silent
from bot.storage.privacy import mask_text

logger = logging.getLogger(__name__)

API_BASE = "https://api.weixin.qq.com"
MAX_BODY_BYTES = 64 * 1024
MAX_CLOCK_SKEW = 300  # seconds between WeChat's timestamp and our clock
PASSIVE_BUDGET = 4.0  # seconds; WeChat waits 5
PASSIVE_MAX_BYTES = 2048  # one passive text reply
CUSTOM_CHUNK_CHARS = 600  # one customer-service text message (and never over PASSIVE_MAX_BYTES)
RETRY_TTL = 300.0  # WeChat's retries of a message come within ~15 s
OPTIONS_TTL = 1800.0  # how long "回复数字选择" options can be answered with their number
TOKEN_EXPIRED = frozenset({40001, 40014, 42001})  # invalid / expired access_token

NON_TEXT_REPLY = "目前只能处理文字消息，请直接输入您的问题"
WELCOME_MESSAGE = "你好"  # a new follower's welcome is the assistant's answer to this
OPTIONS_HEADER = "回复数字选择："

_FORBIDDEN_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)
_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__", re.S)
_OPTION_NUMBER = re.compile(r"\s*(\d{1,2})\s*[.。、]?\s*")


class Rejected(Exception):
    """A request that must not reach Rasa; `status` is the HTTP status it gets."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


# --- signatures and request checks (pure) -------------------------------------------------------


def sign(token: str, *parts: str) -> str:
    """WeChat's signature: SHA-1 over the sorted, concatenated parts (wechatpy's signer)."""
    signer = WeChatSigner()
    signer.add_data(token, *parts)
    return signer.signature


def signature_ok(token: str, signature: Optional[str], timestamp: Optional[str], nonce: Optional[str],
                 *extra: str) -> bool:
    """Whether `signature` signs token/timestamp/nonce (and `extra`, e.g. the Encrypt field) —
    compared in constant time. An empty token never verifies anything."""
    if not token or not signature or timestamp is None or nonce is None:
        return False
    return hmac.compare_digest(sign(token, timestamp, nonce, *extra).encode(), signature.encode("utf-8", "replace"))


def timestamp_fresh(timestamp: Optional[str], now: float, max_skew: float = MAX_CLOCK_SKEW) -> bool:
    """Whether WeChat's `timestamp` (seconds) is within `max_skew` of `now`, either way."""
    if not timestamp or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(now - int(timestamp)) <= max_skew


def check_query(token: str, args: Mapping[str, Any], now: float) -> None:
    """Raise `Rejected(403)` unless the query carries a fresh timestamp and a valid signature."""
    timestamp, nonce, signature = args.get("timestamp"), args.get("nonce"), args.get("signature")
    if not signature_ok(token, signature, timestamp, nonce):
        raise Rejected(403, "bad signature")
    if not timestamp_fresh(timestamp, now):
        raise Rejected(403, "stale timestamp")


def check_body(body: bytes, max_bytes: int = MAX_BODY_BYTES) -> None:
    """Raise `Rejected` for a body that is too large (413), empty, or declares a DOCTYPE/ENTITY (400)."""
    if len(body) > max_bytes:
        raise Rejected(413, f"body over {max_bytes} bytes")
    if not body.strip():
        raise Rejected(400, "empty body")
    if _FORBIDDEN_DECLARATION.search(body):
        raise Rejected(400, "DOCTYPE/ENTITY declarations are not accepted")


def parse_xml(body: bytes | str) -> Dict[str, Any]:
    """The children of the root `<xml>` element, after `check_body`; `Rejected(400)` when malformed.
    xmltodict's expat parser is used with entity declarations disabled as a second line."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    check_body(raw)
    try:
        doc = xmltodict.parse(raw, disable_entities=True)
    except Exception as e:  # ExpatError, ValueError (entities)
        raise Rejected(400, f"malformed XML ({type(e).__name__})") from None
    root = doc.get("xml") if isinstance(doc, dict) else None
    if not isinstance(root, dict):
        raise Rejected(400, "no <xml> root element")
    return root


def parse_wechat_message(body: bytes | str):
    """A wechatpy message/event object from plaintext XML; `Rejected(400)` when it is not one."""
    root = parse_xml(body)
    if not isinstance(root.get("MsgType"), str) or not isinstance(root.get("FromUserName"), str):
        raise Rejected(400, "MsgType and FromUserName are required")
    if not _OPENID.fullmatch(root["FromUserName"]):
        raise Rejected(400, "FromUserName is not an OpenID")
    if root["MsgType"].lower() == "event" and not isinstance(root.get("Event", ""), str):
        raise Rejected(400, "bad Event")
    try:
        # wechatpy's parser picks the message/event class; the body is known to be safe by now.
        return parse_message(raw_text(body))
    except Exception as e:
        raise Rejected(400, f"not a WeChat message ({type(e).__name__})") from None


def raw_text(body: bytes | str) -> str:
    try:
        return body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise Rejected(400, "body is not UTF-8") from None


# --- formatting (pure) ----------------------------------------------------------------------------


def strip_markdown(text: str) -> str:
    """WeChat shows plain text: `**bold**` (and `__bold__`) lose their markers."""
    return _BOLD.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), text)


@dataclass(frozen=True)
class Rendered:
    """One WeChat text made of a turn's bot messages, and the payloads its numbered options stand for."""

    text: str
    payloads: List[str] = field(default_factory=list)


def render(messages: Iterable[Dict[str, Any]]) -> Rendered:
    """Join a turn's messages into one text; buttons (and quick replies) become numbered options."""
    parts: List[str] = []
    buttons: List[Dict[str, Any]] = []
    for m in messages:
        text = m.get("text")
        if isinstance(text, str) and text.strip():
            parts.append(strip_markdown(text).strip())
        if isinstance(m.get("image"), str):
            parts.append(m["image"])
        for b in list(m.get("buttons") or []) + list(m.get("quick_replies") or []):
            if isinstance(b, dict) and b.get("title") and b.get("payload"):
                buttons.append(b)
    if buttons:
        lines = [f"{i}. {strip_markdown(str(b['title'])).strip()}" for i, b in enumerate(buttons, 1)]
        parts.append(OPTIONS_HEADER + "\n" + "\n".join(lines))
    return Rendered("\n\n".join(parts), [str(b["payload"]) for b in buttons])


def fits(text: str, max_chars: int, max_bytes: int = PASSIVE_MAX_BYTES) -> bool:
    return len(text) <= max_chars and len(text.encode("utf-8")) <= max_bytes


def fits_passive(text: str) -> bool:
    """Whether `text` can go back as the single passive reply."""
    return len(text.encode("utf-8")) <= PASSIVE_MAX_BYTES


def split_text(text: str, max_chars: int = CUSTOM_CHUNK_CHARS, max_bytes: int = PASSIVE_MAX_BYTES) -> List[str]:
    """Customer-service messages of at most `max_chars` characters (and `max_bytes` UTF-8 bytes),
    split on line boundaries; only a single over-long line is cut inside."""
    pieces: List[str] = []
    for line in text.strip().split("\n"):
        while not fits(line, max_chars, max_bytes):
            cut = max_chars
            while not fits(line[:cut], max_chars, max_bytes):
                cut -= 1
            pieces.append(line[:cut])
            line = line[cut:]
        pieces.append(line)
    chunks: List[str] = []
    current: Optional[str] = None
    for piece in pieces:
        candidate = piece if current is None else current + "\n" + piece
        if fits(candidate, max_chars, max_bytes):
            current = candidate
        else:
            chunks.append(current)  # type: ignore[arg-type]
            current = piece
    if current is not None:
        chunks.append(current)
    return [c.strip("\n") for c in chunks if c.strip()]


def option_number(text: str) -> Optional[int]:
    """'1', ' 2 ', '３', '1.' -> the number; anything else -> None."""
    m = _OPTION_NUMBER.fullmatch(unicodedata.normalize("NFKC", text or ""))
    return int(m.group(1)) if m else None


def cdata_safe(text: str) -> str:
    """wechatpy wraps reply text in CDATA; a ']]>' inside would end it early."""
    return text.replace("]]>", "]]]]><![CDATA[>")


# --- state that outlives a request: behind small interfaces, so Redis can replace memory ----------


class TurnLedger(abc.ABC):
    """Which WeChat messages have been taken on, and their answers, so retries are processed once.

    The turn's owner calls `begin` (True once per key) and, when Rasa has answered, `finish`.
    Every request for the key (the first and each retry) calls `await_reply`: it returns the answer
    when the request may send it passively, or None when it must answer "success" (not ready in
    time, or already delivered through the customer-service API). `finish` returns True when no
    request is waiting for the answer, so the owner must send it through the API. A request that
    is cancelled while waiting (WeChat hung up) calls `claim_unsent`: the answer, when it is ready
    and nobody is left to send it passively, so the caller sends it through the API instead."""

    @abc.abstractmethod
    async def begin(self, key: str) -> bool: ...

    @abc.abstractmethod
    async def await_reply(self, key: str, timeout: float) -> Optional[str]: ...

    @abc.abstractmethod
    async def finish(self, key: str, reply: str, passive: bool = True) -> bool: ...

    @abc.abstractmethod
    async def claim_unsent(self, key: str) -> Optional[str]: ...


@dataclass
class _Turn:
    expires: float
    event: asyncio.Event = field(default_factory=asyncio.Event)
    reply: Optional[str] = None
    delivered: Optional[str] = None  # None | "passive" | "api"
    waiters: int = 0


class MemoryTurnLedger(TurnLedger):
    """In-process ledger with a TTL: right for one Rasa process (several would need Redis)."""

    def __init__(self, ttl: float = RETRY_TTL, max_entries: int = 100_000,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl, self.max_entries, self.clock = ttl, max_entries, clock
        self._turns: "OrderedDict[str, _Turn]" = OrderedDict()

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
        if turn.reply is not None and turn.delivered in (None, "passive"):
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
        self._options: "OrderedDict[str, tuple[float, List[str]]]" = OrderedDict()

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


# --- the customer-service message API -------------------------------------------------------------


class WeChatApiError(Exception):
    def __init__(self, errcode: Any, errmsg: Any = ""):
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode


class WeChatApi:
    """Access token (cached until shortly before it expires) and customer-service text messages."""

    def __init__(self, base: str, app_id: str, app_secret: str, timeout: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self.base, self.app_id, self.app_secret = base.rstrip("/"), app_id, app_secret
        self.timeout, self.clock = aiohttp.ClientTimeout(total=timeout), clock
        self._token: Optional[str] = None
        self._expires = 0.0
        self._lock: Optional[asyncio.Lock] = None

    async def access_token(self, session: aiohttp.ClientSession) -> str:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._token is None or self.clock() >= self._expires:
                params = {"grant_type": "client_credential", "appid": self.app_id, "secret": self.app_secret}
                async with session.get(f"{self.base}/cgi-bin/token", params=params) as r:
                    data = await r.json(content_type=None)
                if not isinstance(data, dict) or not data.get("access_token"):
                    raise WeChatApiError((data or {}).get("errcode"), (data or {}).get("errmsg"))
                lifetime = float(data.get("expires_in") or 7200)
                self._token = str(data["access_token"])
                self._expires = self.clock() + max(lifetime - 300, lifetime / 2)
                logger.info("wechat: new access token, valid for %.0f s", lifetime)
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget `token` (unless another request already replaced it)."""
        if self._token == token:
            self._token = None

    async def send_text(self, openid: str, text: str) -> None:
        """Send `text` as one or more customer-service messages (split on line boundaries)."""
        async with aiohttp.ClientSession(timeout=self.timeout) as session:
            for chunk in split_text(text):
                await self._send_one(session, openid, chunk)

    async def _send_one(self, session: aiohttp.ClientSession, openid: str, content: str) -> None:
        body = json.dumps({"touser": openid, "msgtype": "text", "text": {"content": content}},
                          ensure_ascii=False).encode("utf-8")  # WeChat shows \u escapes literally
        for attempt in (1, 2):
            token = await self.access_token(session)
            async with session.post(f"{self.base}/cgi-bin/message/custom/send", params={"access_token": token},
                                    data=body, headers={"Content-Type": "application/json; charset=utf-8"}) as r:
                data = await r.json(content_type=None)
            errcode = data.get("errcode", 0) if isinstance(data, dict) else -1
            if not errcode:
                return
            if errcode in TOKEN_EXPIRED and attempt == 1:
                logger.info("wechat: access token rejected (%s); refreshing and retrying once", errcode)
                self.invalidate(token)
                continue
            raise WeChatApiError(errcode, data.get("errmsg") if isinstance(data, dict) else data)


# --- the channel --------------------------------------------------------------------------------


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class WeChatConfig:
    token: str = ""
    app_id: str = ""
    app_secret: str = ""
    aes_key: str = ""
    api_base: str = API_BASE
    passive_budget: float = PASSIVE_BUDGET
    accept_plaintext: bool = True

    @classmethod
    def from_credentials(cls, credentials: Optional[Mapping[str, Any]],
                         env: Optional[Mapping[str, str]] = None) -> "WeChatConfig":
        """Each credentials key, else its environment variable, else the default."""
        creds = credentials or {}
        env = os.environ if env is None else env

        def pick(key: str, var: str, default: str = "") -> str:
            value = creds.get(key)
            if value is None or str(value).strip() == "":
                value = env.get(var, "") or default
            return str(value).strip()

        aes_key = pick("aes_key", "WECHAT_AES_KEY")
        plain = pick("accept_plaintext", "WECHAT_ACCEPT_PLAINTEXT")
        config = cls(
            token=pick("token", "WECHAT_TOKEN"),
            app_id=pick("app_id", "WECHAT_APP_ID"),
            app_secret=pick("app_secret", "WECHAT_APP_SECRET"),
            aes_key=aes_key,
            api_base=pick("api_base", "WECHAT_API_BASE", API_BASE),
            passive_budget=float(pick("passive_budget", "WECHAT_PASSIVE_BUDGET", str(PASSIVE_BUDGET))),
            accept_plaintext=_truthy(plain) if plain else not aes_key,
        )
        if aes_key and (len(aes_key) != 43 or not config.app_id):
            raise ValueError("WeChat safe mode needs a 43-character WECHAT_AES_KEY and WECHAT_APP_ID")
        if not 0 < config.passive_budget < 5:
            raise ValueError("passive_budget must be between 0 and 5 seconds (WeChat waits 5)")
        return config


class WeChatInput(InputChannel):
    """WeChat Official Account messages in, answers out (passively or via the customer-service API)."""

    @classmethod
    def name(cls) -> Text:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WeChatInput":
        return cls(WeChatConfig.from_credentials(credentials))

    def __init__(self, config: WeChatConfig, ledger: Optional[TurnLedger] = None,
                 options: Optional[OptionsStore] = None, api: Optional[WeChatApi] = None):
        self.config = config
        self.crypto = WeChatCrypto(config.token, config.aes_key, config.app_id) if config.aes_key else None
        self.ledger = ledger or MemoryTurnLedger()
        self.options = options or MemoryOptionsStore()
        self.api = api or WeChatApi(config.api_base, config.app_id, config.app_secret)
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

        return wechat

    async def _receive(self, request: Request, handle: Callable[[UserMessage], Awaitable[Any]]
                       ) -> response.HTTPResponse:
        args = request.args
        check_query(self.config.token, args, time.time())
        body = await read_capped(request, MAX_BODY_BYTES)
        encrypted = (args.get("encrypt_type") or "raw").lower() == "aes"
        if encrypted:
            body = self._decrypt(body, args)
        elif not self.config.accept_plaintext:
            raise Rejected(403, "plaintext messages are refused in safe mode")
        message = parse_wechat_message(body)
        reply = await self._dispatch(message, handle)
        if reply is None:
            return response.text("success")
        xml = TextReply(message=message, content=cdata_safe(reply)).render()
        if encrypted:
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
            return await self.ledger.await_reply(key, self.config.passive_budget)
        except asyncio.CancelledError:  # WeChat hung up while we waited
            unsent = await self.ledger.claim_unsent(key)
            if unsent is not None:
                self._spawn(self._deliver(key, openid, unsent))
            raise

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
                from bot.config import get_settings

                rendered = Rendered(FAILURE_REPLY.format(hotline=get_settings().hotline))
            await self.options.remember(openid, rendered.payloads)
            if await self.ledger.finish(key, rendered.text, passive=fits_passive(rendered.text)):
                await self._deliver(key, openid, rendered.text)
        except Exception:
            logger.exception("wechat: could not deliver the answer to %s", key)

    async def _deliver(self, key: str, openid: str, text: str) -> None:
        try:
            await self.api.send_text(openid, text)
            logger.info("wechat: answer to %s sent through the customer-service API", key)
        except (WeChatApiError, aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
            logger.error("wechat: customer-service message to %s failed: %s", openid, e)


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
