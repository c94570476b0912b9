"""Start the assistant in one of its two deployment shapes on loopback, with fresh databases.

`embedded`: what `make run` starts — one Rasa server, one action server, SQLite files.
`production`: what `make prod` starts — PostgreSQL for the app tables and the tracker store, the
Redis lock store, N Rasa replicas and one action server behind nginx running the shipped
deploy/nginx.conf (bot.nginx). Rasa's HTTP API is on, with a token of this run's own, on each
replica's address only; nginx passes only /webhooks/… and /socket.io/.

Used by the load benchmark and the production tests, so both measure exactly the same thing.
Everything started here listens on 127.0.0.1 and is stopped (and its databases dropped) on exit.
Every request of a test or of the load generator comes from 127.0.0.1, a single client address, so
nginx runs here with the per-address limit raised (bot.nginx.ONE_ADDRESS_LIMITS; the 429 test
runs the shipped limits on an nginx of its own).
"""
from __future__ import annotations

import contextlib
import os
import secrets
import signal
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from bot import serve
from bot.config import ROOT

POSTGRES_SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
MODEL = ROOT / "models" / "current.tar.gz"


@dataclass
class Running:
    """A started shape: where to talk to it and what it runs on."""

    kind: str
    base: str  # nginx in production (the public side), the only Rasa server when embedded
    replicas: List[str]  # each Rasa server's own URL (the internal side)
    database_url: str
    tracker_url: str
    env: Dict[str, str]
    processes: list = field(default_factory=list)
    log_dir: Optional[Path] = None
    actions_port: int = 0

    def process(self, name: str):
        """The process of `actions`, `rasa-1`, `rasa-2`… or `nginx`."""
        names = ["actions"] + [f"rasa-{i + 1}" for i in range(len(self.replicas))]
        names += ["nginx"] if self.kind == "production" else []
        return dict(zip(names, self.processes, strict=False))[name]

    @property
    def api_token(self) -> Optional[str]:
        """The token of Rasa's HTTP API on the replicas (production), None when it has none."""
        return self.env.get("RASA_AUTH_TOKEN")

    @property
    def nginx_prefix(self) -> Path:
        """nginx's prefix: the filled configuration, access.log and error.log."""
        return self.process("nginx").prefix

    def access_log(self) -> list:
        """nginx's access log so far (bot.nginx.access_log)."""
        from bot import nginx

        return nginx.access_log(self.nginx_prefix)

    def kill_replica(self, index: int) -> None:
        """SIGKILL Rasa replica `index` (0-based): a crash, no goodbye."""
        process = self.processes[1 + index]
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()

    def start_replica(self, index: int, model: Path = MODEL, timeout: float = 240) -> None:
        """Start Rasa replica `index` (0-based) on its port again and wait until it answers."""
        port = int(self.replicas[index].rsplit(":", 1)[1])
        self.processes[1 + index] = serve.start_rasa(model, port, self.env, self.log_dir, name=f"rasa-{index + 1}",
                                                     production=self.kind == "production")
        if not serve.wait_http(f"{self.replicas[index]}{serve.READY_PATH}", timeout):
            raise RuntimeError(f"replica {index + 1} did not come back")

    def restart_replica(self, index: int, model: Path = MODEL, timeout: float = 240) -> None:
        """Stop Rasa replica `index` (0-based) and start it again on its port (a deploy)."""
        serve.stop([self.processes[1 + index]])
        self.start_replica(index, model, timeout)

    def stop_actions(self) -> None:
        serve.stop([self.processes[0]])

    def start_actions(self, timeout: float = 120, **env: str) -> None:
        """Start the action server again, optionally with some settings changed."""
        self.processes[0] = serve.start_actions(self.actions_port, {**self.env, **env}, self.log_dir)
        if not serve.wait_http(f"http://127.0.0.1:{self.actions_port}/health", timeout):
            raise RuntimeError("action server did not come back")


def create_postgres(names: list, server: str = POSTGRES_SERVER, prefix: str = "beian_shape") -> str:
    """A new empty database on `server` (its URL); its name is appended to `names` for dropping."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(server), isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    names.append(name)
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_postgres(names: list, server: str = POSTGRES_SERVER) -> None:
    """Drop the databases named, ending their open connections first."""
    from sqlalchemy import create_engine

    admin = create_engine(server, isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as conn:
            for name in names:
                conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        admin.dispose()


@contextlib.contextmanager
def started(kind: str, replicas: int = 2, model: Path = MODEL, env: Optional[Dict[str, str]] = None,
            log_dir: Optional[Path] = None, timeout: float = 300,
            nginx_limits: Optional[Dict[str, str]] = None) -> Iterator[Running]:
    """Start `kind` ("embedded" or "production"), wait until every server answers, yield it.
    `nginx_limits` replaces nginx's per-address limits (default: bot.nginx.ONE_ADDRESS_LIMITS)."""
    from bot import nginx
    from bot.storage.orders_csv import create_demo_database

    if kind not in ("embedded", "production"):
        raise ValueError(kind)
    pg_names: list = []
    with tempfile.TemporaryDirectory(prefix=f"beian-{kind}-") as tmp:
        work = Path(tmp)
        log_dir = log_dir or work / "logs"
        if kind == "embedded":
            database_url = f"sqlite:///{work / 'app.db'}"
            tracker_url = f"sqlite:///{work / 'tracker.db'}"
            extra = {}
        else:
            database_url = tracker_url = create_postgres(pg_names)
            extra = {"REDIS_URL": REDIS_SERVER, "RASA_AUTH_TOKEN": secrets.token_urlsafe(24)}
        try:
            if not create_demo_database(database_url).ok:
                raise RuntimeError("demo orders did not import")
            actions_port = serve.free_port()
            ports = [serve.free_port() for _ in range(replicas if kind == "production" else 1)]
            full_env = {"RASA_ENDPOINTS": str(serve.endpoints_file(work, actions_port)),
                        "DATABASE_URL": database_url, "TRACKER_STORE_URL": tracker_url,
                        "SERVICE_HOURS": "00:00-23:59", **extra, **(env or {})}
            if kind == "production":
                base_port = serve.free_port()
                processes = serve.start_production(model, base_port, ports, actions_port, full_env, log_dir,
                                                   nginx_limits=nginx_limits or nginx.ONE_ADDRESS_LIMITS)
            else:
                base_port = ports[0]
                processes = serve.start(model, base_port, actions_port, full_env, log_dir)
            running = Running(kind, f"http://127.0.0.1:{base_port}", [f"http://127.0.0.1:{p}" for p in ports],
                              database_url, tracker_url, full_env, processes, log_dir, actions_port)
            try:
                urls = [f"http://127.0.0.1:{actions_port}/health"]
                urls += [f"{u}{serve.READY_PATH}" for u in running.replicas]
                front = f"{running.base}{serve.PUBLIC_READY_PATH if kind == 'production' else serve.READY_PATH}"
                if not all(serve.wait_http(url, timeout) for url in urls + [front]):
                    raise RuntimeError(f"{kind} shape did not start; see {log_dir}")
                yield running
            finally:
                serve.stop(running.processes)
        finally:
            if pg_names:
                from bot.storage import db

                db.dispose_engines()
                drop_postgres(pg_names)
