"""bot/patches.py: every patch of Rasa and Sanic internals is guarded, and each one is tested through
the public path it changes (a custom action run by Rasa, HTTP requests to a running Sanic server,
Rasa's tracker store), so a patch that goes missing fails here."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from aiohttp import web
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from sanic.touchup.service import TouchUp

from bot import patches
from bot.config import ROOT
from bot.serve import free_port

# Sanic's own methods as imported (pytest imports this module before any test runs). A Sanic app
# started earlier in this process (tests/channels) replaces the methods TouchUp handles with copies
# compiled from their source, which have no source of their own for the guards to check.
AS_IMPORTED = [(target, name, target.__dict__[name]) for target, name in TouchUp._registry if name in target.__dict__]


@pytest.fixture(autouse=True)
def _sanic_as_at_start_up(monkeypatch):
    """These tests see Sanic's methods as a real start-up finds them, whatever ran before."""
    for target, name, method in AS_IMPORTED:
        monkeypatch.setattr(target, name, method)


# --- the guards -------------------------------------------------------------------------------------


def test_every_guard_fits_the_installed_rasa_and_sanic():
    patches.check_all()


def test_another_rasa_version_stops_the_start_up_with_a_clear_error(monkeypatch):
    real = patches.metadata.version
    monkeypatch.setattr(patches.metadata, "version", lambda name: "3.7.1" if name == "rasa" else real(name))
    with pytest.raises(patches.PatchError, match=r"written for rasa 3\.6\.x, but rasa 3\.7\.1 is installed"):
        patches.apply_rasa_server()


def test_a_replaced_attribute_with_another_signature_stops_the_start_up(monkeypatch):
    def changed(self, result, strict):  # what a future Rasa might have
        return True

    monkeypatch.setattr(RemoteAction, "_validate_action_result", changed)
    with pytest.raises(patches.PatchError, match=r"_validate_action_result takes \('self', 'result', 'strict'\)"):
        patches.apply_rasa_server()


def test_a_missing_attribute_stops_the_start_up(monkeypatch):
    import sanic.request

    monkeypatch.delattr(sanic.request, "parse_accept")
    with pytest.raises(patches.PatchError, match=r"sanic 21\.12\.\d+ has no callable sanic\.request\.parse_accept"):
        patches.check_all()


def test_a_changed_body_the_patch_relies_on_stops_the_start_up(monkeypatch):
    from rasa.core.tracker_store import SQLTrackerStore

    def session_scope(self):  # no longer uses self.sessionmaker
        raise NotImplementedError

    monkeypatch.setattr(SQLTrackerStore, "session_scope", session_scope)
    with pytest.raises(patches.PatchError, match="no longer contains 'session = self.sessionmaker\\(\\)'"):
        patches.check_all()


def test_the_rasa_server_refuses_to_start_when_a_guard_fails():
    """`python -m bot.rasa_main` (what bot.serve and the container run) exits at once, saying why."""
    code = ("import dataclasses, sys; from bot import patches; "
            "patches.GUARDS = {k: tuple(dataclasses.replace(g, series='9.9.') if g.distribution == 'rasa' else g "
            "for g in v) for k, v in patches.GUARDS.items()}; "
            "sys.argv = ['rasa', '--version']; from bot import rasa_main; rasa_main.main()")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "refusing to start" in done.stderr and "written for rasa 9.9.x" in done.stderr


# --- 1. the action response validator, through RemoteAction.run -------------------------------------

@pytest.fixture
async def action_server():
    """A loopback action server answering each call with the next queued response."""
    answers: list = []

    async def webhook(request: web.Request) -> web.Response:
        return web.json_response(answers.pop(0) if answers else {"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/webhook", answers
    await runner.cleanup()


async def _run_remote_action(url: str) -> list:
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    action = RemoteAction("action_faq", EndpointConfig(url))
    return await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}),
                            DialogueStateTracker.from_events("s", []), Domain.empty())


async def test_rasa_checks_the_response_schema_once_not_on_every_action_call(action_server, monkeypatch):
    """The point of the patch: Rasa's own check re-validated the schema itself on every call."""
    url, answers = action_server
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    patches.apply_rasa_server()  # what the Rasa server's start-up does
    cls = validator_for(RemoteAction.action_response_format_spec())
    checks = []
    real_check = cls.check_schema.__func__
    monkeypatch.setattr(cls, "check_schema", classmethod(lambda c, schema, *a, **k: (checks.append(1),
                                                                                     real_check(c, schema, *a, **k))))
    for i in range(10):
        answers.append({"events": [{"event": "slot", "name": "faq_topic", "value": f"t{i}"}], "responses": []})
        events = await _run_remote_action(url)
        assert events[-1].value == f"t{i}"  # responses are still read and applied
    assert len(checks) <= 1


@pytest.mark.parametrize("bad", [{"events": "not a list"}, {"events": [{"no_event_key": 1}]}, {"events": [1]}])
async def test_an_invalid_action_response_still_fails_with_rasas_message(action_server, monkeypatch, bad):
    url, answers = action_server
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    patches.apply_rasa_server()
    answers.append(bad)
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        await _run_remote_action(url)


# --- 2 and 3. Sanic's header handling, through HTTP to a running server ---------------------------------

SANIC_SERVER = """
import sys
from rasa.core.channels.channel import register
from sanic import Sanic, response
from bot.channels.rest import CheckedRestInput

app = Sanic("probe")

@app.get("/")
async def root(_):
    return response.text("ok")

register([CheckedRestInput()], app, route="/webhooks/")  # as Rasa registers our REST channel
app.run("127.0.0.1", int(sys.argv[1]), access_log=False)
"""


def _raw(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
        return data


@pytest.fixture(scope="module")
def sanic_port():
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SANIC_SERVER, str(port)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if _raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1).startswith(b"HTTP/1.1 200"):
                    break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("the Sanic probe server did not start")
        yield port
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize("length", [b"abc", b"-1"])
def test_a_malformed_content_length_gets_a_400_and_the_server_keeps_serving(sanic_port, length):
    answer = _raw(sanic_port, b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: x\r\nContent-Length: " + length
                  + b"\r\n\r\n{}")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert _raw(sanic_port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 2).startswith(b"HTTP/1.1 200")


def test_a_malformed_accept_header_keeps_the_4xx(sanic_port):
    answer = _raw(sanic_port, b"GET /no/such/route HTTP/1.1\r\nHost: x\r\nAccept: */*;q=abc\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404"), answer[:200]


# --- 4. the SQLite tracker store, through Rasa's session scope -------------------------------------------

def test_the_sqlite_tracker_store_runs_on_a_pooled_wal_engine(tmp_path, monkeypatch):
    from sqlalchemy import text
    from sqlalchemy.pool import QueuePool

    from bot.storage.rasa_stores import EnvSQLTrackerStore

    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{tmp_path / 'tracker.db'}")
    store = EnvSQLTrackerStore(domain=None)
    with store.session_scope() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    assert isinstance(store.engine.pool, QueuePool)
