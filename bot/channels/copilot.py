"""The agents' copilot: a Rasa input channel under `/webhooks/copilot/` for support agents.

An agent answering a customer by hand pastes the customer's message and gets what the assistant
makes of it, without the message becoming part of any conversation:

    POST /webhooks/copilot/suggest               {"text": "…", "conversation_id": "…"?}
      → {"intent": {name, confidence}, "candidates": [{topic, question, answer, answer_plain, confidence}] (3-5),
         "entities": [{entity, value, start, end}], "order": {order_no, status, status_label, …} | null,
         "conversation_id": … | null}
    GET  /webhooks/copilot/conversations/<id>    → {"conversation_id", "turns": [{who, text, time, …}]}
    POST /webhooks/copilot/feedback              {"topic", "text", "verdict": "used"|"wrong", "conversation_id"?}
      → 201 {"id": …}   (stored in `suggestion_feedback`, phone numbers and e-mails in the text masked)

`answer` is the knowledge base's markdown (the page renders it with static/markdown.js, as the widget
does); `answer_plain` is the same answer as plain text (`render.to_plain`, what WeChat users get),
which "复制答案" copies: agents paste into WeChat, phone notes and tickets.

`GET /webhooks/copilot/` is the agents' page (static/copilot.html, .js, .css): it needs no token
itself, asks the agent for one and sends it on every API call. `GET …/health` answers {"status": "ok"}.

Every API request needs `Authorization: Bearer <token>` with one of the configured agent tokens;
anything else gets 401. Agents are trusted with order statuses (no phone-digit check), but every
lookup is logged with the agent's identity: the fingerprint of their token (`fingerprint`), never
the token. Bad input gets a 4xx saying what is wrong, never a 5xx.

The text is parsed by the agent Rasa has loaded (`request.app.ctx.agent.parse_message`): the same
model and pipeline as every channel, and no tracker is created or changed. With a
`conversation_id`, a follow-up ("那公司呢？") is resolved against that conversation's last FAQ
topic (read only).

Configured only through `from_credentials`:

    bot.channels.copilot.CopilotInput:
      tokens: …     # else COPILOT_TOKENS (comma-separated); without any, every request gets 401
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Blueprint, response
from sanic.request import Request

from bot import followup
from bot.channels.render import to_plain
from bot.channels.rest import decode_json
from bot.channels.web import ASSET_CACHE, PAGE_CACHE, add_file_routes, static_response
from bot.faq.kb import KnowledgeBase, load_kb
from bot.order_status import STATUS_TEXTS
from bot.ranking import faq_ranking
from bot.storage.models import CHINA_TZ
from bot.storage.privacy import mask_text

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS = 2000
MAX_ID_CHARS = 255
MAX_BODY_BYTES = 64 * 1024
MAX_CANDIDATES = 5
MIN_CANDIDATES = 3
CANDIDATE_FLOOR = 0.01  # candidates beyond the third below this confidence are noise
MIN_TOKEN_CHARS = 16
VERDICTS = ("used", "wrong")

UNAUTHORIZED = "a valid copilot token is required (Authorization: Bearer <token>)"

# The page at GET /webhooks/copilot/ and its files (bot/channels/static/); never framed by others.
PAGE_FILES = {"copilot.js": ASSET_CACHE, "copilot.css": ASSET_CACHE, "markdown.js": ASSET_CACHE}
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


# --- tokens (pure) ------------------------------------------------------------------------------


def parse_tokens(value: Any) -> tuple[str, ...]:
    """Tokens from a comma-separated string or a list; blanks dropped, order kept, no duplicates."""
    if value is None:
        return ()
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return tuple(dict.fromkeys(t for t in (str(i).strip() for i in items) if t))


def fingerprint(token: str) -> str:
    """The agent identity that goes into logs and the feedback table: 8 hex digits of SHA-256."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:8]


def bearer_token(header: Optional[str]) -> Optional[str]:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), else None."""
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class TokenChecker:
    """Checks a presented token against every configured one in constant time.

    SHA-256 digests are compared, so neither a token's length nor which token matched shows in the
    time taken; all tokens are compared on every request, with no early exit."""

    def __init__(self, tokens: Iterable[str]):
        self._known = [(hashlib.sha256(t.encode("utf-8")).digest(), fingerprint(t)) for t in tokens]

    def __bool__(self) -> bool:
        return bool(self._known)

    def agent(self, presented: Optional[str]) -> Optional[str]:
        """The fingerprint of the token `presented` matches, or None."""
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "replace")).digest()
        found: Optional[str] = None
        for known, agent in self._known:
            if hmac.compare_digest(digest, known) and found is None:
                found = agent
        return found


# --- request checks (pure) ----------------------------------------------------------------------


def _text_problem(value: Any, key: str = "text") -> Optional[str]:
    if not isinstance(value, str):
        return f"\"{key}\" must be a string"
    if not value.strip():
        return f"\"{key}\" must not be empty"
    if len(value) > MAX_TEXT_CHARS:
        return f"\"{key}\" is longer than {MAX_TEXT_CHARS} characters"
    return None


def _id_problem(value: Any) -> Optional[str]:
    if value is not None and (not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS):
        return f"\"conversation_id\" must be a string of 1 to {MAX_ID_CHARS} characters"
    return None


def suggest_problem(body: Any) -> Optional[str]:
    """Why a decoded body cannot be a suggest request, or None when it can."""
    if not isinstance(body, dict):
        return "the body must be a JSON object like {\"text\": \"…\"}"
    if "text" not in body:
        return "\"text\" is required"
    return _text_problem(body["text"]) or _id_problem(body.get("conversation_id"))


def feedback_problem(body: Any, kb: KnowledgeBase) -> Optional[str]:
    """Why a decoded body cannot be feedback, or None when it can."""
    if not isinstance(body, dict):
        return "the body must be a JSON object like {\"topic\": \"…\", \"text\": \"…\", \"verdict\": \"used\"}"
    for key in ("topic", "text", "verdict"):
        if key not in body:
            return f"\"{key}\" is required"
    topic = body["topic"]
    if not isinstance(topic, str) or kb.get(topic) is None:
        return "\"topic\" must be a topic id of the knowledge base"
    if not isinstance(body["verdict"], str) or body["verdict"] not in VERDICTS:
        return "\"verdict\" must be \"used\" or \"wrong\""
    return _text_problem(body["text"]) or _id_problem(body.get("conversation_id"))


# --- what a parse, an order and a tracker look like to an agent (pure) --------------------------


def intent_view(parse: Mapping[str, Any]) -> Dict[str, Any]:
    intent = parse.get("intent") or {}
    return {"name": intent.get("name"), "confidence": float(intent.get("confidence") or 0.0)}


def entities_view(entities: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    keys = ("entity", "value", "start", "end", "role", "group")
    return [{k: e[k] for k in keys if e.get(k) is not None} for e in entities or () if e.get("entity")]


def candidates(parse: Mapping[str, Any], kb: KnowledgeBase, first: Optional[str] = None) -> List[Dict[str, Any]]:
    """The 3-5 best FAQ topics, best first: five, less the weak ones beyond the third.

    `first` (a resolved follow-up) leads with confidence 1.0, as the FollowupRouter asserts."""
    topics = kb.by_id()
    ranked = sorted(((t, c) for t, c in faq_ranking(parse) if t in topics and t != first), key=lambda r: -r[1])
    if first in topics:
        ranked.insert(0, (first, 1.0))
    ranked = ranked[:MAX_CANDIDATES]
    while len(ranked) > MIN_CANDIDATES and ranked[-1][1] < CANDIDATE_FLOOR:
        ranked.pop()
    return [{"topic": t, "question": topics[t].question, "answer": topics[t].answer,
             "answer_plain": to_plain(topics[t].answer), "confidence": c}
            for t, c in ranked]


def order_id_in(entities: Iterable[Mapping[str, Any]]) -> Optional[str]:
    return next((str(e["value"]) for e in entities or () if e.get("entity") == "order_id" and e.get("value")), None)


def order_view(order: Any) -> Dict[str, Any]:
    """An order as agents see it: status and what it means; no name or phone number."""
    text = STATUS_TEXTS.get(order.status)
    return {
        "order_no": order.order_no,
        "status": order.status,
        "status_label": text.label if text else order.status,
        "status_detail": order.status_detail or "",
        "icp_number": order.icp_number,
        "province": order.province,
        "updated_at": order.updated_at.astimezone(CHINA_TZ).isoformat() if order.updated_at else None,
        "meaning": text.meaning if text else "",
        "wait": text.wait if text else "",
        "next_step": text.next_step if text else "",
    }


def _time(timestamp: Optional[float]) -> Optional[str]:
    return datetime.fromtimestamp(timestamp, CHINA_TZ).isoformat(timespec="seconds") if timestamp else None


def transcript(events: Iterable[Any]) -> List[Dict[str, Any]]:
    """User and bot turns in order; a user turn carries its intent, confidence, FAQ topic, entities."""
    turns: List[Dict[str, Any]] = []
    for event in events:
        if isinstance(event, UserUttered):
            parse = event.parse_data or {}
            intent = intent_view(parse)
            turn: Dict[str, Any] = {"who": "user", "text": event.text or "", "time": _time(event.timestamp),
                                    "intent": intent["name"], "confidence": intent["confidence"]}
            ranking = faq_ranking(parse) if intent["name"] == "faq" else ()
            if ranking:
                turn["faq_topic"] = {"topic": ranking[0][0], "confidence": ranking[0][1]}
            entities = entities_view(parse.get("entities") or event.entities or ())
            if entities:
                turn["entities"] = entities
            turns.append(turn)
        elif isinstance(event, BotUttered):
            turn = {"who": "bot", "text": event.text or "", "time": _time(event.timestamp)}
            buttons = [b.get("title") for b in (event.data or {}).get("buttons") or () if isinstance(b, dict)]
            if buttons:
                turn["buttons"] = buttons
            turns.append(turn)
    return turns


# --- the database (blocking: called in a worker thread) -----------------------------------------


def lookup_order(order_no: str, engine: Any = None) -> Dict[str, Any]:
    """The order's view, {"order_no", "error": "not_found"}, or {"error": "unavailable"} when the
    database fails (the suggestion is still worth having)."""
    from bot.storage.db import session_scope
    from bot.storage.repository import get_order

    try:
        with session_scope(engine) as session:
            order = get_order(session, order_no)
            return order_view(order) if order else {"order_no": order_no, "error": "not_found"}
    except Exception as e:
        logger.error("copilot: order lookup failed: %s: %s", type(e).__name__, e)
        return {"order_no": order_no, "error": "unavailable"}


def store_feedback(engine: Any = None, **fields: Any) -> int:
    from bot.storage.db import session_scope
    from bot.storage.feedback import add_feedback

    with session_scope(engine) as session:
        return add_feedback(session, **fields).id


async def _in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(function, *args, **kwargs))


# --- the channel --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CopilotConfig:
    tokens: tuple[str, ...] = ()

    @classmethod
    def from_credentials(cls, credentials: Optional[Mapping[str, Any]],
                         env: Optional[Mapping[str, str]] = None) -> CopilotConfig:
        """`tokens` from the credentials (a list or a comma-separated string), else COPILOT_TOKENS."""
        env = os.environ if env is None else env
        tokens = parse_tokens((credentials or {}).get("tokens"))
        return cls(tokens=tokens or parse_tokens(env.get("COPILOT_TOKENS", "")))


def _error(status: int, message: str, **headers: str) -> response.HTTPResponse:
    return response.json({"error": message}, status=status, headers=headers or None)


class CopilotInput(InputChannel):
    """Suggestions, transcripts and feedback for support agents; never a turn of a conversation."""

    @classmethod
    def name(cls) -> str:
        return "copilot"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> CopilotInput:
        return cls(CopilotConfig.from_credentials(credentials))

    def __init__(self, config: CopilotConfig, kb: Optional[KnowledgeBase] = None, engine: Any = None):
        self.config = config
        self.tokens = TokenChecker(config.tokens)
        self._kb = kb
        self.engine = engine  # None: the process-wide engine for DATABASE_URL
        if not config.tokens:
            logger.warning("copilot: COPILOT_TOKENS is not set; /webhooks/copilot refuses every request")
        elif any(len(t) < MIN_TOKEN_CHARS for t in config.tokens):
            logger.warning("copilot: a token is shorter than %d characters; use long random tokens", MIN_TOKEN_CHARS)
        else:
            logger.info("copilot: %d agent token(s) configured", len(config.tokens))

    @property
    def kb(self) -> KnowledgeBase:
        if self._kb is None:  # read faq/ on first use, not at startup
            from bot.config import get_settings

            self._kb = load_kb(get_settings().faq_dir)
        return self._kb

    def agent_of(self, request: Request) -> Optional[str]:
        return self.tokens.agent(bearer_token(request.headers.get("authorization")))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        copilot = Blueprint("copilot_webhook", __name__)

        def authenticated(handler: Callable[..., Awaitable[response.HTTPResponse]]):
            @functools.wraps(handler)
            async def wrapped(request: Request, *args: Any, **kwargs: Any) -> response.HTTPResponse:
                agent = self.agent_of(request)
                if agent is None:
                    logger.info("copilot: %s %s refused: no valid token", request.method, request.path)
                    return _error(401, UNAUTHORIZED, **{"WWW-Authenticate": 'Bearer realm="copilot"'})
                return await handler(request, agent, *args, **kwargs)

            return wrapped

        def json_body(request: Request) -> tuple[Any, Optional[response.HTTPResponse]]:
            if len(request.body or b"") > MAX_BODY_BYTES:
                return None, _error(413, f"the body is over {MAX_BODY_BYTES} bytes")
            body, problem = decode_json(request)
            return body, (_error(400, problem) if problem else None)

        @copilot.route("/", methods=["GET"])
        async def page(request: Request) -> response.HTTPResponse:
            """The agents' page: it asks for the token itself, so the page needs none."""
            return static_response(request, "copilot.html", PAGE_CACHE, PAGE_HEADERS)

        @copilot.route("/health", methods=["GET"])
        async def health(_: Request) -> response.HTTPResponse:
            return response.json({"status": "ok"})

        add_file_routes(copilot, PAGE_FILES)

        @copilot.route("/suggest", methods=["POST"])
        @authenticated
        async def suggest(request: Request, agent: str) -> response.HTTPResponse:
            body, rejected = json_body(request)
            problem = None if rejected else suggest_problem(body)
            if rejected or problem:
                return rejected or _error(400, problem)
            rasa = _loaded_agent(request)
            if rasa is None:
                return _error(503, "the model is not loaded yet")
            text, conversation_id = body["text"], body.get("conversation_id")
            parse = await rasa.parse_message(text)
            first = await self._followup_topic(rasa, text, conversation_id)
            entities = parse.get("entities") or []
            order = None
            order_no = order_id_in(entities)
            if order_no:
                order = await _in_thread(lookup_order, order_no, self.engine)
                logger.info("copilot: agent %s looked up order %s: %s", agent, order_no,
                            order.get("status") or order.get("error"))
            return response.json({
                "intent": intent_view(parse),
                "candidates": candidates(parse, self.kb, first),
                "entities": entities_view(entities),
                "order": order,
                "conversation_id": conversation_id,
            })

        @copilot.route("/conversations/<conversation_id>", methods=["GET"])
        @authenticated
        async def conversation(request: Request, agent: str, conversation_id: str) -> response.HTTPResponse:
            if _id_problem(conversation_id):
                return _error(400, _id_problem(conversation_id))
            rasa = _loaded_agent(request)
            if rasa is None:
                return _error(503, "the model is not loaded yet")
            tracker = await _full_tracker(rasa, conversation_id)
            if tracker is None:
                return _error(404, "no such conversation")
            logger.info("copilot: agent %s opened conversation %s", agent, conversation_id)
            return response.json({"conversation_id": conversation_id, "turns": transcript(tracker.events)})

        @copilot.route("/feedback", methods=["POST"])
        @authenticated
        async def feedback(request: Request, agent: str) -> response.HTTPResponse:
            body, rejected = json_body(request)
            problem = None if rejected else feedback_problem(body, self.kb)
            if rejected or problem:
                return rejected or _error(400, problem)
            # Content owners need the wording, not the customer's phone number or e-mail address.
            fields = {"agent": agent, "topic": body["topic"], "text": mask_text(body["text"]),
                      "verdict": body["verdict"], "conversation_id": body.get("conversation_id")}
            try:
                feedback_id = await _in_thread(store_feedback, self.engine, **fields)
            except Exception as e:
                logger.error("copilot: feedback not stored: %s: %s", type(e).__name__, e)
                return _error(503, "unavailable")
            logger.info("copilot: agent %s marked %s %s", agent, body["topic"], body["verdict"])
            return response.json({"id": feedback_id}, status=201)

        return copilot

    async def _followup_topic(self, rasa: Any, text: str, conversation_id: Optional[str]) -> Optional[str]:
        """The topic a follow-up means in that conversation (its last FAQ topic), read only."""
        facets = followup.detect(text)
        if not facets or not conversation_id:
            return None
        tracker = await rasa.tracker_store.retrieve(conversation_id)
        last = tracker.get_slot("faq_topic") if tracker is not None else None
        topic = followup.resolve(self.kb, last, facets)
        return topic.id if topic else None


def _loaded_agent(request: Request) -> Any:
    agent = getattr(request.app.ctx, "agent", None)
    return agent if agent is not None and agent.is_ready() else None


async def _full_tracker(agent: Any, conversation_id: str) -> Any:
    """Every session of the conversation when the tracker store can give them, else the latest."""
    store = agent.tracker_store
    retrieve = getattr(store, "retrieve_full_tracker", None) or store.retrieve
    return await retrieve(conversation_id)
