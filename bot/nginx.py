"""nginx in front of the Rasa replicas, running the shipped `deploy/nginx.conf` itself.

`deploy/nginx.conf` is a template of http-level directives with `${NGINX_…}` placeholders (the same
file compose.yaml gives the official nginx image, whose envsubst fills it). Here it is filled in
Python and included from a small main file that gives nginx a prefix of its own — pid, logs and
temporary paths — so Debian's nginx runs without root, on a loopback port, in the foreground:

    nginx -p PREFIX -c PREFIX/nginx.conf -e PREFIX/error.log -g 'daemon off;'

`make prod`, the production tests and the load test start it through `start()`.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Mapping, Optional, Sequence

from bot.config import ROOT

TEMPLATE = ROOT / "deploy" / "nginx.conf"
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")

# The shipped per-address limits (compose.yaml gives the container the same values; a test checks).
PUBLIC_LIMITS = {"NGINX_WEBHOOK_RATE": "10r/s", "NGINX_WEBHOOK_BURST": "40", "NGINX_WECHAT_RATE": "200r/s"}
# Load generators and test suites send everything from 127.0.0.1, one "client address": they raise
# the per-address limit instead of measuring it (the 429 test runs the shipped limits).
ONE_ADDRESS_LIMITS = {"NGINX_WEBHOOK_RATE": "100000r/s", "NGINX_WEBHOOK_BURST": "100000",
                      "NGINX_WECHAT_RATE": "100000r/s"}
# A replica that refuses connections is skipped for this long (max_fails=1).
FAIL_TIMEOUT = "2s"

# The main file around the template: everything nginx would otherwise put under /etc, /var/log, /run.
MAIN = """# Written by bot/nginx.py: the shipped deploy/nginx.conf (filled in site.conf) under this prefix.
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    log_format upstream '$remote_addr [$time_local] "$request" $status $body_bytes_sent $request_time '
                        '"$upstream_addr"';
    access_log {prefix}/access.log upstream;
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    include {prefix}/site.conf;
}}
"""


class NginxError(RuntimeError):
    pass


def binary() -> str:
    """Debian's nginx (`make nginx` installs it)."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise NginxError("nginx is not installed: run `make nginx` (Debian's package)")
    return found


def render(template: str, values: Mapping[str, str]) -> str:
    """`template` with every `${NAME}` replaced; a placeholder without a value is an error."""
    missing = sorted(set(PLACEHOLDER.findall(template)) - set(values))
    if missing:
        raise NginxError(f"no value for {', '.join(missing)} in {TEMPLATE.name}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def values(port: int, replica_ports: Sequence[int], limits: Optional[Mapping[str, str]] = None,
           host: str = "127.0.0.1") -> dict:
    """The template's values for nginx on `host:port` in front of replicas on 127.0.0.1."""
    servers = " ".join(f"server 127.0.0.1:{p} max_fails=1 fail_timeout={FAIL_TIMEOUT};" for p in replica_ports)
    return {"NGINX_LISTEN": f"{host}:{port}", "NGINX_RASA_SERVERS": servers, **PUBLIC_LIMITS, **(limits or {})}


def write_config(prefix: Path, port: int, replica_ports: Sequence[int],
                 limits: Optional[Mapping[str, str]] = None, host: str = "127.0.0.1") -> Path:
    """Write nginx.conf and site.conf (the filled template) under `prefix`; returns nginx.conf."""
    prefix = Path(prefix).resolve()
    (prefix / "temp").mkdir(parents=True, exist_ok=True)
    site = render(TEMPLATE.read_text(encoding="utf-8"), values(port, replica_ports, limits, host))
    (prefix / "site.conf").write_text(site, encoding="utf-8")
    main = prefix / "nginx.conf"
    main.write_text(MAIN.format(prefix=prefix), encoding="utf-8")
    for log in ("access.log", "error.log"):
        (prefix / log).unlink(missing_ok=True)  # this run's requests only
    return main


def command(prefix: Path) -> list:
    prefix = Path(prefix).resolve()
    return [binary(), "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]


def start(port: int, replica_ports: Sequence[int], prefix: Optional[Path] = None,
          limits: Optional[Mapping[str, str]] = None, host: str = "127.0.0.1") -> subprocess.Popen:
    """Check the configuration (`nginx -t`), then run nginx in the foreground from `prefix` (a new
    temporary directory when None; `process.prefix` tells which). SIGTERM stops it."""
    prefix = Path(prefix) if prefix else Path(tempfile.mkdtemp(prefix="beian-nginx-"))
    write_config(prefix, port, replica_ports, limits, host)
    test = subprocess.run([*command(prefix), "-t", "-q"], capture_output=True, text=True, timeout=30)
    if test.returncode != 0:
        raise NginxError(f"nginx rejected the configuration in {prefix}: {test.stderr.strip()}")
    process = subprocess.Popen([*command(prefix), "-g", "daemon off;"], stdin=subprocess.DEVNULL,
                               stdout=open(prefix / "stdout.log", "ab"), stderr=subprocess.STDOUT)
    process.prefix = prefix  # type: ignore[attr-defined]
    return process


def access_log(prefix: Path) -> list:
    """The access log's lines as dicts: remote, request (method and URI), status, and upstreams: the
    replicas tried in order (more than one when nginx failed over), empty when nginx answered itself."""
    path = Path(prefix) / "access.log"
    if not path.exists():
        return []
    line = re.compile(r'^(\S+) \[[^\]]*\] "([^"]*)" (\d{3}) \d+ \S+ "([^"]*)"$')
    rows = []
    for text in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = line.match(text)
        if m:
            rows.append({"remote": m.group(1), "request": m.group(2), "status": int(m.group(3)),
                         "upstreams": [u for u in re.split(r"[,:] ", m.group(4)) if u and u != "-"]})
    return rows
