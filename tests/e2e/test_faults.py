"""Faults a user must never experience as silence: the action server dies in the middle of a chat."""
import signal

import pytest

from bot import serve
from servers import MODEL, Bot, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fragile(tmp_path_factory, app_db):
    rasa_port, actions_port = free_port(), free_port()
    endpoints = serve.endpoints_file(tmp_path_factory.mktemp("fragile"), actions_port)
    env = {"RASA_ENDPOINTS": str(endpoints), "DATABASE_URL": app_db[0]}
    logs = serve.ROOT / "artifacts" / "faults"
    processes = serve.start(MODEL, rasa_port, actions_port, env=env, log_dir=logs)
    assert serve.wait_http(f"http://127.0.0.1:{actions_port}/health", 120)
    assert serve.wait_http(f"http://127.0.0.1:{rasa_port}/status", 240)
    state = {"processes": processes, "actions_port": actions_port, "env": env, "logs": logs}
    yield Bot(f"http://127.0.0.1:{rasa_port}"), state
    serve.stop(state["processes"])


def test_killed_action_server_gets_an_honest_reply_then_recovers(fragile):
    bot, state = fragile
    sender = "fault-actions"
    assert "营业执照" in bot.text("企业备案要准备哪些材料", sender)
    actions = state["processes"][0]
    actions.send_signal(signal.SIGKILL)
    actions.wait(10)
    reply = bot.text("管局审核要多久", sender)
    assert "出了点问题" in reply and "4000-955-988" in reply
    assert bot.alive()
    state["processes"][0] = serve.start_actions(state["actions_port"], state["env"], state["logs"])
    assert serve.wait_http(f"http://127.0.0.1:{state['actions_port']}/health", 120)
    assert "20" in bot.text("管局审核要多久", sender)
