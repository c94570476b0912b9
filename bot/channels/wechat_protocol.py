"""The WeChat protocol as pure functions: signatures, timestamps, XML checks and parsing, and how a
turn's bot messages become WeChat text (markdown as plain text through `render.to_plain`, buttons as
numbered options, split into customer-service messages). No I/O and no state, so every rule here is
tested directly.

Options and steps cannot be confused: answers' steps are ①②③ (never a line starting "1."), the
options come last, in their own block under OPTIONS_HEADER, as 【1】【2】; a typed "1", "１", "1.",
"【1】" or "(1)" picks option 1, while a typed "①" (a step) or "第1步" picks nothing."""
from __future__ import annotations

import hmac
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional

import xmltodict
from wechatpy.parser import parse_message
from wechatpy.utils import WeChatSigner

from bot.channels.render import to_plain

MAX_BODY_BYTES = 64 * 1024
MAX_CLOCK_SKEW = 300  # seconds between WeChat's timestamp and our clock
PASSIVE_MAX_BYTES = 2048  # one passive text reply
CUSTOM_CHUNK_CHARS = 600  # one customer-service text message (and never over PASSIVE_MAX_BYTES)

NON_TEXT_REPLY = "目前只能处理文字消息，请直接输入您的问题"
WELCOME_MESSAGE = "你好"  # a new follower's welcome is the assistant's answer to this
OPTIONS_HEADER = "回复数字继续："
OPTION_LABEL = "【{n}】"  # before each option's title, e.g. 【1】公司备案要什么材料

_FORBIDDEN_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)
_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_OPTION_NUMBER = re.compile(r"\s*(?:[\[【(]\s*(\d{1,2})\s*[\]】)]|(\d{1,2})\s*[.。、]?)\s*")
_STEP_DIGITS = re.compile("[\u2460-\u24ff\u2776-\u2793\u3251-\u325f\u32b1-\u32bf]")  # ①… ⑴… ⒈… ❶…

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


TEXT_FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event", "EventKey",
               "Recognition", "MediaId", "Format", "PicUrl", "Ticket")


def parse_wechat_message(body: bytes | str):
    """A wechatpy message/event object from plaintext XML; `Rejected(400)` when it is not one."""
    root = parse_xml(body)
    if not isinstance(root.get("MsgType"), str) or not isinstance(root.get("FromUserName"), str):
        raise Rejected(400, "MsgType and FromUserName are required")
    if not _OPENID.fullmatch(root["FromUserName"]):
        raise Rejected(400, "FromUserName is not an OpenID")
    if root["MsgType"].lower() == "event" and not isinstance(root.get("Event", ""), str):
        raise Rejected(400, "bad Event")
    # Elements or repeats where WeChat sends text (`<Content><a>1</a></Content>`) would reach the
    # channel as dicts or lists.
    for key in TEXT_FIELDS:
        if key in root and root[key] is not None and not isinstance(root[key], str):
            raise Rejected(400, f"{key} must be text")
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


@dataclass(frozen=True)
class Rendered:
    """One WeChat text made of a turn's bot messages, and the payloads its numbered options stand for."""

    text: str
    payloads: List[str] = field(default_factory=list)


def render(messages: Iterable[Dict[str, Any]]) -> Rendered:
    """Join a turn's messages into one plain text (`to_plain`); buttons (and quick replies) become
    numbered options in a block of their own, last."""
    parts: List[str] = []
    buttons: List[Dict[str, Any]] = []
    for m in messages:
        text = m.get("text")
        plain = to_plain(text) if isinstance(text, str) else ""
        if plain:
            parts.append(plain)
        if isinstance(m.get("image"), str):
            parts.append(m["image"])
        for b in list(m.get("buttons") or []) + list(m.get("quick_replies") or []):
            if isinstance(b, dict) and b.get("title") and b.get("payload"):
                buttons.append(b)
    if buttons:
        lines = [OPTION_LABEL.format(n=i) + to_plain(str(b["title"])).replace("\n", " ")
                 for i, b in enumerate(buttons, 1)]
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
    """'1', ' 2 ', '３', '1.', '【1】', '(1)' -> the number; anything else -> None. Circled digits
    are steps ('②' means step 2, not option 2), so they are refused before NFKC would make them '2'."""
    if _STEP_DIGITS.search(text or ""):
        return None
    m = _OPTION_NUMBER.fullmatch(unicodedata.normalize("NFKC", text or ""))
    return int(m.group(1) or m.group(2)) if m else None


def cdata_safe(text: str) -> str:
    """wechatpy wraps reply text in CDATA; a ']]>' inside would end it early."""
    return text.replace("]]>", "]]]]><![CDATA[>")

