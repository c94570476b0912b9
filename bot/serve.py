"""Run the action server and the Rasa server together; Ctrl-C stops both.

`make run` calls this after training; `make prod` with `--replicas N`: N Rasa servers and the
action server on 127.0.0.1, and nginx (the shipped deploy/nginx.conf, see bot.nginx) on the public
port in front of them. Each child is Rasa's own CLI, so what runs here is exactly what a
production deployment runs, one process per role.

Rasa's HTTP API (`--enable-api`: every conversation's tracker, `PUT /model`, `/model/parse`) is on
unless RASA_ENABLE_API=false. In the production shape (and in the container, `python -m bot
rasa-server`, and wherever Rasa listens beyond loopback) it needs RASA_AUTH_TOKEN: without one,
nothing starts. nginx never passes it on: only /webhooks/… and /socket.io/ are public.
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bot.config import ROOT

LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Readiness: Rasa answers "/" (no token, API on or off, any channels) once its model is loaded;
# nginx answers only the public routes, so through it the REST channel's health route is asked.
READY_PATH = "/"
PUBLIC_READY_PATH = "/webhooks/rest/"

API_TOKEN_MISSING = (
    "refusing to start: Rasa's HTTP API is enabled (RASA_ENABLE_API is not false) and RASA_AUTH_TOKEN "
    "is unset. That API reads every conversation (phone and order numbers included) and replaces the "
    "model. Set RASA_AUTH_TOKEN in .env or the deployment's environment (for example the output of "
    "`python -c \"import secrets; print(secrets.token_urlsafe(32))\"`), or set RASA_ENABLE_API=false.")


class ApiTokenMissing(RuntimeError):
    """Rasa's HTTP API would run without a token where that is not allowed."""


def rasa_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("rasa")), *args]


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (tests, benchmark), chosen below
    the kernel's ephemeral range: outgoing connections take their source ports from that range,
    so a port picked there could be taken by one (or a client could connect to itself on it) in
    the seconds before the server meant for it binds it, after loading its model."""
    import random

    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(10000, max(low, 10001))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
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
        except (OSError, http.client.HTTPException):
            # HTTPException: not an HTTP answer yet, e.g. a connection to a port nothing listens on
            # yet that the kernel connected to itself (same ephemeral port): it reads its own request.
            time.sleep(0.3)
    return False


# Third-party start-up noise (TensorFlow's C++ info lines, SQLAlchemy's 2.0 notice about Rasa's
# tracker store) hidden unless LOG_LEVEL=DEBUG; a value set in the environment always wins.
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "3", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}


def _env(env: dict | None) -> dict:
    env = {**os.environ, **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if env.get("LOG_LEVEL", "").upper() != "DEBUG":
        env = {**QUIET, **env}
    return env


def _log(log_dir: Path | None, name: str) -> dict:
    if log_dir is None:
        return {}
    log_dir.mkdir(parents=True, exist_ok=True)
    return {"stdout": open(log_dir / f"{name}.log", "ab"), "stderr": subprocess.STDOUT}


def actions_interface(env: dict | None = None) -> str:
    """Where the action server listens: 127.0.0.1 unless ACTIONS_INTERFACE says otherwise (a
    container's internal network). rasa_sdk reads it from SANIC_HOST, whose default is 0.0.0.0."""
    return _env(env).get("ACTIONS_INTERFACE") or "127.0.0.1"


def start_actions(port: int = 5055, env: dict | None = None, log_dir: Path | None = None) -> subprocess.Popen:
    env = _env(env)
    env["SANIC_HOST"] = actions_interface(env)
    return subprocess.Popen(rasa_command("run", "actions", "--port", str(port), "--actions", "actions"),
                            cwd=ROOT, env=env, **_log(log_dir, "actions"))


def api_enabled(env: dict) -> bool:
    return env.get("RASA_ENABLE_API", "true").strip().lower() not in ("0", "false", "no", "off")


def check_api_token(env: dict, production: bool) -> None:
    """Raise ApiTokenMissing when Rasa's HTTP API would run without a token in the production shape
    or on an interface beyond loopback."""
    exposed = production or env.get("RASA_INTERFACE", "127.0.0.1") not in LOOPBACK
    if exposed and api_enabled(env) and not env.get("RASA_AUTH_TOKEN"):
        raise ApiTokenMissing(API_TOKEN_MISSING)


def rasa_arguments(model: Path, port: int = 5005, env: dict | None = None, production: bool = False) -> list[str]:
    """The command line of one Rasa server (`rasa run` through bot.rasa_main for its measured fix);
    raises ApiTokenMissing (see check_api_token)."""
    env = _env(env)
    check_api_token(env, production)
    endpoints = env.get("RASA_ENDPOINTS", str(ROOT / "endpoints.yml"))
    api = (["--enable-api"] + (["--auth-token", env["RASA_AUTH_TOKEN"]] if env.get("RASA_AUTH_TOKEN") else [])
           if api_enabled(env) else [])
    return [sys.executable, "-m", "bot.rasa_main", "run", "--model", str(model), "--port", str(port), *api,
            "--credentials", env.get("RASA_CREDENTIALS", str(ROOT / "credentials.yml")), "--endpoints", endpoints,
            "--cors", "*", "--interface", env.get("RASA_INTERFACE", "127.0.0.1")]


def start_rasa(model: Path, port: int = 5005, env: dict | None = None, log_dir: Path | None = None,
               name: str = "rasa", production: bool = False) -> subprocess.Popen:
    return subprocess.Popen(rasa_arguments(model, port, env, production), cwd=ROOT, env=_env(env),
                            **_log(log_dir, name))


def exec_rasa(model: Path, port: int) -> int:
    """The container's Rasa server (`python -m bot rasa-server`): the same command line as the
    production shape, exec'd in place; refuses to start when the API has no token."""
    try:
        arguments = rasa_arguments(model, port, production=True)
    except ApiTokenMissing as exc:
        print(exc, file=sys.stderr, flush=True)
        return 2
    os.execve(arguments[0], arguments, _env(None))
    return 1  # not reached


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
                     env: dict | None = None, log_dir: Path | None = None,
                     nginx_limits: dict | None = None) -> list[subprocess.Popen]:
    """The production shape: one action server, Rasa replicas on `replica_ports` sharing the
    tracker store (TRACKER_STORE_URL) and the Redis lock store (REDIS_URL), and nginx on `port` in
    front of them (deploy/nginx.conf; its prefix, logs and filled configuration under
    `log_dir`/nginx). Raises ApiTokenMissing before starting anything."""
    from bot import nginx

    if not _env(env).get("REDIS_URL"):
        raise ValueError("several replicas need REDIS_URL: Rasa's lock store must be shared")
    check_api_token(_env(env), production=True)
    nginx.binary()  # installed? (`make nginx`)
    front = nginx.start(port, replica_ports, prefix=(log_dir / "nginx") if log_dir else None, limits=nginx_limits)
    return [start_actions(actions_port, env, log_dir),
            *(start_rasa(model, p, env, log_dir, name=f"rasa-{i + 1}", production=True)
              for i, p in enumerate(replica_ports)),
            front]


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


def preflight(replicas: int = 1) -> str | None:
    """Why `main` would refuse to start with these settings (the environment), or None."""
    env = _env(None)
    try:
        check_api_token(env, production=replicas > 1)
    except ApiTokenMissing as exc:
        return str(exc)
    if replicas > 1:
        from bot import nginx

        if not env.get("REDIS_URL"):
            return "refusing to start: several replicas need REDIS_URL (Rasa's lock store must be shared)"
        try:
            nginx.binary()
        except nginx.NginxError as exc:
            return f"refusing to start: {exc}"
    return None


def main(model: Path, rasa_port: int, actions_port: int, replicas: int = 1) -> int:
    """Serve until Ctrl-C (exit 0) or until a server dies on its own (exit 1). With `replicas` > 1,
    the Rasa replicas listen on the ports after `rasa_port` and nginx on `rasa_port`. Exit 2, with
    nothing started, when Rasa's API would run without a token where that is refused."""
    env = {}
    replica_ports = [rasa_port + 1 + i for i in range(replicas)] if replicas > 1 else []
    problem = preflight(replicas)
    if problem:
        print(problem, file=sys.stderr, flush=True)
        return 2
    if actions_port != 5055 and "RASA_ENDPOINTS" not in os.environ:
        import tempfile

        env["RASA_ENDPOINTS"] = str(endpoints_file(Path(tempfile.mkdtemp()), actions_port))
    log_dir = ROOT / "var" / "log"
    if replica_ports:
        processes = start_production(model, rasa_port, replica_ports, actions_port, env=env, log_dir=log_dir)
    else:
        processes = start(model, rasa_port, actions_port, env=env)
    interface = _env(env).get("RASA_INTERFACE", "127.0.0.1")
    # Ctrl-C and `kill` both stop cleanly, even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if not all(wait_http(f"http://127.0.0.1:{p}{READY_PATH}", timeout=240) for p in replica_ports):
            print("a replica did not start; see var/log/", flush=True)
            return 1
        front = PUBLIC_READY_PATH if replica_ports else READY_PATH
        if wait_http(f"http://127.0.0.1:{rasa_port}{front}", timeout=180):
            public = f"http://127.0.0.1:{rasa_port}"
            api = _env(env).get("RASA_AUTH_TOKEN") and "token required" or "no token"
            if replica_ports:
                api_line = (f"  Rasa API:  {', '.join(f'http://{interface}:{p}' for p in replica_ports)} only"
                            f" ({api}); nginx on :{rasa_port} answers 404\n" if api_enabled(_env(env))
                            else "  Rasa API:  off (RASA_ENABLE_API=false)\n")
            else:
                api_line = (f"  Rasa API:  http://{interface}:{rasa_port}/ ({api})\n" if api_enabled(_env(env))
                            else "  Rasa API:  off (RASA_ENABLE_API=false)\n")
            print(
                f"\n备案助手 is up.\n"
                f"  web chat:  {public}/webhooks/web/\n"
                f"  copilot:   {public}/webhooks/copilot/  (agents; COPILOT_TOKENS)\n"
                f"  REST:      POST {public}/webhooks/rest/webhook "
                '{"sender": "me", "message": "个人备案要准备什么材料"}\n'
                f"  socket.io: {public}/socket.io\n"
                f"  actions:   http://{actions_interface(env)}:{actions_port}/webhook\n"
                + api_line
                + (f"  replicas:  {', '.join(f'{interface}:{p}' for p in replica_ports)}"
                   f" behind nginx (deploy/nginx.conf; logs in var/log/, nginx's in var/log/nginx/)\n"
                   if replica_ports else "")
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
