"""Run the action server and the Rasa server together; Ctrl-C stops both.

`make run` calls this after training. Each child is Rasa's own CLI, so what runs here is exactly
what a production deployment runs, one process per role.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.config import ROOT


def rasa_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("rasa")), *args]


def wait_http(url: str, timeout: float) -> bool:
    """Poll `url` until it answers 200 or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def start(model: Path, rasa_port: int = 5005, actions_port: int = 5055, env: dict | None = None,
          log_dir: Path | None = None) -> list[subprocess.Popen]:
    """Start both servers (actions first, Rasa pointing at it); returns the processes."""
    env = {**os.environ, **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    out = {}
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        out = {"actions": open(log_dir / "actions.log", "ab"), "rasa": open(log_dir / "rasa.log", "ab")}
    actions = subprocess.Popen(
        rasa_command("run", "actions", "--port", str(actions_port), "--actions", "actions"),
        cwd=ROOT, env=env, stdout=out.get("actions"), stderr=subprocess.STDOUT if out else None,
    )
    endpoints = env.get("RASA_ENDPOINTS", str(ROOT / "endpoints.yml"))
    rasa = subprocess.Popen(
        rasa_command("run", "--model", str(model), "--port", str(rasa_port), "--enable-api",
                     "--credentials", str(ROOT / "credentials.yml"), "--endpoints", endpoints,
                     "--cors", "*", "--interface", env.get("RASA_INTERFACE", "127.0.0.1")),
        cwd=ROOT, env=env, stdout=out.get("rasa"), stderr=subprocess.STDOUT if out else None,
    )
    return [actions, rasa]


def stop(processes: list[subprocess.Popen], timeout: float = 15) -> None:
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in processes:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main(model: Path, rasa_port: int, actions_port: int) -> int:
    """Serve until Ctrl-C (exit 0) or until a server dies on its own (exit 1)."""
    processes = start(model, rasa_port, actions_port)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops cleanly too
    try:
        if wait_http(f"http://127.0.0.1:{rasa_port}/status", timeout=180):
            print(
                f"\n备案助手 is up.\n"
                f"  REST:      POST http://127.0.0.1:{rasa_port}/webhooks/rest/webhook "
                '{"sender": "me", "message": "个人备案要准备什么材料"}\n'
                f"  socket.io: http://127.0.0.1:{rasa_port}/socket.io\n"
                f"  actions:   http://127.0.0.1:{actions_port}/webhook\n"
                "Ctrl-C stops both servers.\n",
                flush=True,
            )
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        stop(processes)
    return 1
