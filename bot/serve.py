"""Run the action server and the Rasa server together; Ctrl-C stops both.

`make run` calls this after training. Each child is Rasa's own CLI, so what runs here is exactly
what a production deployment runs, one process per role.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.config import ROOT


def rasa_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("rasa")), *args]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (tests, benchmark)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def _env(env: dict | None) -> dict:
    env = {**os.environ, **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _log(log_dir: Path | None, name: str) -> dict:
    if log_dir is None:
        return {}
    log_dir.mkdir(parents=True, exist_ok=True)
    return {"stdout": open(log_dir / f"{name}.log", "ab"), "stderr": subprocess.STDOUT}


def start_actions(port: int = 5055, env: dict | None = None, log_dir: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen(rasa_command("run", "actions", "--port", str(port), "--actions", "actions"),
                            cwd=ROOT, env=_env(env), **_log(log_dir, "actions"))


def start_balancer(port: int, upstream_ports: list[int], env: dict | None = None,
                   log_dir: Path | None = None) -> subprocess.Popen:
    upstreams = [f"http://127.0.0.1:{p}" for p in upstream_ports]
    return subprocess.Popen([sys.executable, "-m", "bot.balancer", str(port), *upstreams],
                            cwd=ROOT, env=_env(env), **_log(log_dir, "balancer"))


def start_rasa(model: Path, port: int = 5005, env: dict | None = None, log_dir: Path | None = None,
               name: str = "rasa") -> subprocess.Popen:
    env = _env(env)
    endpoints = env.get("RASA_ENDPOINTS", str(ROOT / "endpoints.yml"))
    return subprocess.Popen(
        # `rasa run`, through bot.rasa_main for its measured fix (see there).
        [sys.executable, "-m", "bot.rasa_main", "run", "--model", str(model), "--port", str(port), "--enable-api",
         "--credentials", env.get("RASA_CREDENTIALS", str(ROOT / "credentials.yml")), "--endpoints", endpoints,
         "--cors", "*", "--interface", env.get("RASA_INTERFACE", "127.0.0.1"),
         # The HTTP API reads any conversation: token-protect it wherever it is reachable.
         *(["--auth-token", env["RASA_AUTH_TOKEN"]] if env.get("RASA_AUTH_TOKEN") else [])],
        cwd=ROOT, env=env, **_log(log_dir, name))


def endpoints_file(directory: Path, actions_port: int) -> Path:
    """endpoints.yml as shipped, with the action server on `actions_port` (tests, benchmark)."""
    import yaml

    config = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    config["action_endpoint"]["url"] = f"http://127.0.0.1:{actions_port}/webhook"
    path = Path(directory) / "endpoints.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def start(model: Path, rasa_port: int = 5005, actions_port: int = 5055, env: dict | None = None,
          log_dir: Path | None = None) -> list[subprocess.Popen]:
    """Start both servers (actions first, Rasa pointing at it); returns the processes."""
    return [start_actions(actions_port, env, log_dir), start_rasa(model, rasa_port, env, log_dir)]


def start_production(model: Path, port: int, replica_ports: list[int], actions_port: int,
                     env: dict | None = None, log_dir: Path | None = None) -> list[subprocess.Popen]:
    """The production shape: one action server, Rasa replicas on `replica_ports` sharing the
    tracker store (TRACKER_STORE_URL) and the Redis lock store (REDIS_URL), and the loopback
    balancer on `port` in front of them."""
    if not _env(env).get("REDIS_URL"):
        raise ValueError("several replicas need REDIS_URL: Rasa's lock store must be shared")
    return [start_actions(actions_port, env, log_dir),
            *(start_rasa(model, p, env, log_dir, name=f"rasa-{i + 1}") for i, p in enumerate(replica_ports)),
            start_balancer(port, replica_ports, env, log_dir)]


def stop(processes: list[subprocess.Popen], timeout: float = 15) -> None:
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)  # both servers shut down cleanly on it; SIGINT may be ignored
    for p in processes:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main(model: Path, rasa_port: int, actions_port: int, replicas: int = 1) -> int:
    """Serve until Ctrl-C (exit 0) or until a server dies on its own (exit 1). With `replicas` > 1,
    the Rasa replicas listen on the ports after `rasa_port` and the balancer on `rasa_port`."""
    env = {}
    if actions_port != 5055 and "RASA_ENDPOINTS" not in os.environ:
        import tempfile

        env["RASA_ENDPOINTS"] = str(endpoints_file(Path(tempfile.mkdtemp()), actions_port))
    replica_ports = [rasa_port + 1 + i for i in range(replicas)] if replicas > 1 else []
    if replica_ports:
        processes = start_production(model, rasa_port, replica_ports, actions_port, env=env,
                                     log_dir=ROOT / "var" / "log")
    else:
        processes = start(model, rasa_port, actions_port, env=env)
    # Ctrl-C and `kill` both stop cleanly, even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if not all(wait_http(f"http://127.0.0.1:{p}/status", timeout=240) for p in replica_ports):
            print("a replica did not start; see var/log/", flush=True)
            return 1
        if wait_http(f"http://127.0.0.1:{rasa_port}/status", timeout=180):
            print(
                f"\n备案助手 is up.\n"
                f"  web chat:  http://127.0.0.1:{rasa_port}/webhooks/web/\n"
                f"  copilot:   http://127.0.0.1:{rasa_port}/webhooks/copilot/  (agents; COPILOT_TOKENS)\n"
                f"  REST:      POST http://127.0.0.1:{rasa_port}/webhooks/rest/webhook "
                '{"sender": "me", "message": "个人备案要准备什么材料"}\n'
                f"  socket.io: http://127.0.0.1:{rasa_port}/socket.io\n"
                f"  actions:   http://127.0.0.1:{actions_port}/webhook\n"
                + (f"  replicas:  {', '.join(f'127.0.0.1:{rasa_port + 1 + i}' for i in range(replicas))}"
                   " behind the balancer (logs in var/log/)\n" if replicas > 1 else "")
                + "Ctrl-C stops the servers.\n",
                flush=True,
            )
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        stop(processes)
    return 1
