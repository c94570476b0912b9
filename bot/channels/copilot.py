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

The channel and its routes are here; the agent tokens in bot/channels/auth.py (shared with the
reports page); request checks and what agents see of a parse, an order and a tracker in
bot/channels/copilot_views.py.

Configured only through `from_credentials`:

    bot.channels.copilot.CopilotInput:
      tokens: …     # else COPILOT_TOKENS (comma-separated); without any, every request gets 401
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request

from bot import followup
from bot.channels.auth import TokenChecker, bearer_token, parse_tokens
from bot.channels.copilot_views import (
    candidates,
    entities_view,
    feedback_problem,
    id_problem,
    intent_view,
    order_id_in,
    order_view,
    suggest_problem,
    transcript,
)
from bot.channels.rest import decode_json
from bot.channels.web import ASSET_CACHE, PAGE_CACHE, add_file_routes, static_response
from bot.faq.kb import KnowledgeBase, load_kb
from bot.storage.privacy import mask_text

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MIN_TOKEN_CHARS = 16

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
            if rejected:
                return rejected
            problem = suggest_problem(body)
            if problem:
                return _error(400, problem)
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
            problem = id_problem(conversation_id)
            if problem:
                return _error(400, problem)
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
            if rejected:
                return rejected
            problem = feedback_problem(body, self.kb)
            if problem:
                return _error(400, problem)
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
