"""rasa_sdk's plugin package: `rasa run actions` imports it (rasa_sdk.plugin) and calls
`init_hooks`; our one plugin attaches bot.action_server to the action server's Sanic app."""
from __future__ import annotations

from typing import Any

import pluggy

hookimpl = pluggy.HookimplMarker("rasa_sdk")


class BeianActionServer:
    @hookimpl
    def attach_sanic_app_extensions(self, app: Any) -> None:
        from bot.action_server import attach

        attach(app)


def init_hooks(manager: pluggy.PluginManager) -> None:
    manager.register(BeianActionServer())
