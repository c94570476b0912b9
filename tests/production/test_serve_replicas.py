"""`python -m bot serve --replicas 2` (what `make prod` runs after `db init`): nginx and both
replicas come up on PostgreSQL + Redis, everything on 127.0.0.1, only nginx's port is public and
answers the webhooks, and Ctrl-C stops every process. With Rasa's HTTP API on and no
RASA_AUTH_TOKEN, nothing starts."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys

import pytest
import requests

from bot import serve, shapes
from bot.config import ROOT

from listening import listening_addresses


def _free_run(n: int) -> int:
    """A port p with p … p+n-1 all free on 127.0.0.1 (the replicas listen after nginx)."""
    for _ in range(50):
        base = serve.free_port()
        sockets = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                sockets.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    pytest.fail("no run of free ports")


def test_serve_with_two_replicas_answers_through_nginx_and_stops(services):
    names: list = []
    url = shapes.create_postgres(names)
    port, actions_port = _free_run(3), serve.free_port()
    # As `make prod` with .env.example: the API off (RASA_ENABLE_API=false), so no token is needed.
    env = {**os.environ, "DATABASE_URL": url, "TRACKER_STORE_URL": url, "REDIS_URL": shapes.REDIS_SERVER,
           "RASA_ENABLE_API": "false"}
    env.pop("RASA_ENDPOINTS", None)  # serve writes one pointing at --actions-port
    env.pop("RASA_AUTH_TOKEN", None)
    try:
        init = subprocess.run([sys.executable, "-m", "bot", "db", "init"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert init.returncode == 0, init.stdout + init.stderr
        process = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--model", str(shapes.MODEL),
                                    "--port", str(port), "--actions-port", str(actions_port), "--replicas", "2"],
                                   cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)  # its own process group: nothing outlives a failure
        try:
            for p in (port + 1, port + 2):
                assert serve.wait_http(f"http://127.0.0.1:{p}{serve.READY_PATH}", 300), f"nothing on {p}"
            assert serve.wait_http(f"http://127.0.0.1:{port}{serve.PUBLIC_READY_PATH}", 60), "nginx"
            reply = requests.post(f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                                  json={"sender": "replicas", "message": "备案有问题打什么电话"}, timeout=30).json()
            assert "950808" in reply[0]["text"]
            for p in (port, port + 1, port + 2, actions_port):
                assert listening_addresses(p) == {"127.0.0.1"}, p
            assert requests.get(f"http://127.0.0.1:{port}/status", timeout=10).status_code == 404  # nginx
            assert requests.get(f"http://127.0.0.1:{port + 1}/status", timeout=10).status_code == 404  # API off
            process.send_signal(signal.SIGINT)
            output, _ = process.communicate(timeout=90)
            assert process.returncode == 0
            assert f"replicas:  127.0.0.1:{port + 1}, 127.0.0.1:{port + 2} behind nginx" in output
            assert f"actions:   http://127.0.0.1:{actions_port}/webhook" in output
            assert "Rasa API:  off" in output
            for p in (port, port + 1, port + 2, actions_port):
                with pytest.raises(requests.ConnectionError):
                    requests.get(f"http://127.0.0.1:{p}/", timeout=5)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # nginx and the servers too, had the test failed
            process.wait()
    finally:
        from bot.storage import db

        db.dispose_engines()
        shapes.drop_postgres(names)
