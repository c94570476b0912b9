"""What our action server (`rasa run actions --actions actions`) adds to rasa_sdk's Sanic app.

rasa_sdk 3.6 calls the `attach_sanic_app_extensions(app)` hook of a `rasa_sdk_plugins` package when
one is importable (the repo root is on the path: `rasa` puts the working directory there, and
bot.serve sets PYTHONPATH); ours (rasa_sdk_plugins/__init__.py) calls `attach` below:

- the guarded Sanic fixes (bot/patches.py): checked now, swapped in when the server starts;
- the outbox worker (bot/outbox.py): started with the server when HELPDESK_WEBHOOK_URL is set, so
  tickets left pending by an earlier process are delivered at start-up; stopped with the server.
"""
from __future__ import annotations

from typing import Any


def attach(app: Any) -> None:
    from bot import outbox, patches

    patches.check("sanic.content_length", "sanic.accept")
    app.register_listener(patches.sanic_listener, "before_server_start")
    app.register_listener(outbox.start_worker, "after_server_start")
    app.register_listener(outbox.stop_worker, "before_server_stop")
