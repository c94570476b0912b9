"""The web chat widget's files, served by the Rasa server under `/webhooks/web/`.

    GET /webhooks/web/                   the demo page: the widget as a full-page chat
    GET /webhooks/web/widget.js          the embeddable widget (loads the two files below itself)
    GET /webhooks/web/widget.css
    GET /webhooks/web/markdown.js        the safe markdown renderer shared with the copilot page
    GET /webhooks/web/socket.io.min.js   socket.io-client (see static/socket.io.VERSION)

A site embeds the widget with one script tag and one line:

    <script src="https://<host>/webhooks/web/widget.js"></script>
    <script>BeianWidget.init({server: "https://<host>"})</script>

The widget's messages do not come through here: it talks to Rasa's socket.io channel at
`/socket.io` (`WidgetSocketIOInput` below: Rasa's own with its session handshake fixed, with
`session_persistence: true`). `WidgetInput` only serves files, and only the ones named in a fixed
whitelist from `static/`: a request for anything else, `..` included, gets 404 without the file
system being asked.

    bot.channels.web.WidgetSocketIOInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true
    bot.channels.web.WidgetInput:
"""
from __future__ import annotations

import hashlib
import inspect
import logging
import re
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, response
from sanic.request import Request

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}

# Pages are revalidated on every load; the widget's code for five minutes, so a fix reaches the
# sites embedding it soon; the vendored socket.io client changes only with its version.
PAGE_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=300"
VENDOR_CACHE = "public, max-age=86400"

WIDGET_FILES: Dict[str, str] = {
    "widget.js": ASSET_CACHE,
    "widget.css": ASSET_CACHE,
    "markdown.js": ASSET_CACHE,
    "socket.io.min.js": VENDOR_CACHE,
}

# The demo page loads only its own scripts and styles and talks only to this server (socket.io).
# It may be framed: a site can show the chat in an iframe instead of embedding the script.
WIDGET_PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                   "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'")


def static_response(request: Request, name: str, cache_control: str,
                    extra_headers: Optional[Mapping[str, str]] = None) -> response.HTTPResponse:
    """`static/<name>` with its content type, cache headers and an ETag (304 when it matches).

    `name` must come from a caller's whitelist, never from the request."""
    path = STATIC_DIR / name
    content_type = CONTENT_TYPES.get(path.suffix)
    if content_type is None or not path.is_file():
        return response.text("not found", status=404)
    body = path.read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
    headers = {"Cache-Control": cache_control, "ETag": etag, "X-Content-Type-Options": "nosniff",
               **(extra_headers or {})}
    if etag in {t.strip() for t in (request.headers.get("if-none-match") or "").split(",")}:
        return response.empty(status=304, headers=headers)
    return response.raw(body, content_type=content_type, headers=headers)


def add_file_routes(blueprint: Blueprint, files: Mapping[str, str]) -> None:
    """One GET route per file in `files` (name → Cache-Control): the routes are the whitelist, so
    any other path, encoded `..` included, is Sanic's 404 and never reaches the file system."""
    for name, cache_control in files.items():
        async def serve(request: Request, name: str = name, cache_control: str = cache_control
                        ) -> response.HTTPResponse:
            return static_response(request, name, cache_control)

        blueprint.add_route(serve, f"/{name}", methods=["GET"], name=name.replace(".", "_"))


SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_MESSAGE_CHARS = 20_000  # as the REST channel


class WidgetSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel, with its session handshake fixed for python-socketio 5.x.

    Rasa 3.6 calls `sio.enter_room(...)` without awaiting it, but python-socketio made it a
    coroutine (5.18.1 here): the socket never joins its session's room, and with
    `session_persistence` every reply, sent to that room, is lost. Here `session_request` awaits
    it, and accepts only a session id that looks like one (else a new one is issued); a message
    that is not a string of sane length is dropped before Rasa sees it. Same name ("socketio"),
    path and options as Rasa's channel."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        sio, namespace = self.sio, self.namespace or "/"
        rasa_message_handler = sio.handlers[namespace][self.user_message_evt]

        async def session_request(sid: str, data: Any) -> None:
            asked = data.get("session_id") if isinstance(data, dict) else None
            session_id = asked if isinstance(asked, str) and SESSION_ID.fullmatch(asked) else uuid.uuid4().hex
            if self.session_persistence:
                joined = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(joined):
                    await joined
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        async def user_message(sid: str, data: Any) -> None:
            message = data.get("message") if isinstance(data, dict) else None
            if not isinstance(message, str) or len(message) > MAX_MESSAGE_CHARS:
                logger.info("socketio: message from %s dropped: not a string of at most %d characters",
                            sid, MAX_MESSAGE_CHARS)
                return
            session_id = data.get("session_id")
            if self.session_persistence and not (isinstance(session_id, str) and SESSION_ID.fullmatch(session_id)):
                logger.info("socketio: message from %s dropped: no valid session_id", sid)
                return
            # Rasa's handler json-decodes a string and passes anything else on: only an object is metadata.
            metadata = data.get(self.metadata_key)
            clean = {"message": message, "session_id": session_id,
                     self.metadata_key: metadata if isinstance(metadata, dict) else {}}
            await rasa_message_handler(sid, clean)

        handle_request = sio.eio.handle_request

        async def guarded_request(*args: Any, **kwargs: Any) -> Any:
            # python-engineio 4.15 raises KeyError (a 500) for a POST to a session its client
            # closed itself; that is the client's mistake, so it gets a 400.
            try:
                return await handle_request(*args, **kwargs)
            except KeyError:
                return response.text("Session is disconnected", status=400)

        sio.eio.handle_request = guarded_request  # before Rasa's blueprint attaches it to the app
        sio.on("session_request", session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, user_message, namespace=self.namespace)
        return blueprint


class WidgetInput(InputChannel):
    """Serves the widget's page and files; the conversation itself runs over `socketio`."""

    @classmethod
    def name(cls) -> str:
        return "web"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> WidgetInput:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        web = Blueprint("web_widget", __name__)

        @web.route("/", methods=["GET"])
        async def page(request: Request) -> response.HTTPResponse:
            return static_response(request, "index.html", PAGE_CACHE,
                                   {"Content-Security-Policy": WIDGET_PAGE_CSP,
                                    "Referrer-Policy": "same-origin"})

        add_file_routes(web, WIDGET_FILES)
        return web
