"""The front of the production shape without starting Rasa: deploy/nginx.conf as a template (filled
here, checked by `nginx -t`, the same values as compose.yaml's), and the refusal to start Rasa's
HTTP API without a token in `make prod` and the container."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from bot import nginx, serve
from bot.config import ROOT


def test_the_template_has_exactly_the_placeholders_the_code_fills():
    template = nginx.TEMPLATE.read_text(encoding="utf-8")
    assert set(nginx.PLACEHOLDER.findall(template)) == set(nginx.values(5005, [5006]))
    site = nginx.render(template, nginx.values(5005, [5006, 5007]))
    assert "${" not in site
    assert "server 127.0.0.1:5006 max_fails=1" in site and "server 127.0.0.1:5007 max_fails=1" in site
    with pytest.raises(nginx.NginxError, match="NGINX_LISTEN"):
        nginx.render(template, {k: v for k, v in nginx.values(5005, [5006]).items() if k != "NGINX_LISTEN"})


def test_only_webhooks_and_socketio_are_proxied():
    template = nginx.TEMPLATE.read_text(encoding="utf-8")
    blocks = dict(re.findall(r"location (\S+) \{(.*?)\n    \}", template, re.S))
    proxied = sorted(path for path, body in blocks.items() if "proxy_pass" in body)
    assert proxied == ["/socket.io/", "/webhooks/", "/webhooks/wechat/"]
    assert "return 404" in blocks["/"] and "proxy_pass" not in blocks["/"]
    assert all("limit_req zone=" in blocks[p] for p in proxied)
    assert "limit_req_status 429" in template and "client_max_body_size 256k" in template


def test_compose_runs_the_same_template_with_the_shipped_limits():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    front = compose["services"]["nginx"]
    assert "./deploy/nginx.conf:/etc/nginx/templates/default.conf.template:ro" in front["volumes"]
    env = {k: str(v) for k, v in front["environment"].items()}
    assert set(env) == set(nginx.values(80, [5005]))
    assert {k: env[k] for k in nginx.PUBLIC_LIMITS} == nginx.PUBLIC_LIMITS
    assert "ports" not in compose["services"]["rasa"] and "ports" not in compose["services"]["actions"]


def test_nginx_accepts_the_filled_configuration(tmp_path):
    if not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"):
        if os.environ.get("CI"):
            pytest.fail("nginx missing: `make test` installs it (make nginx)")
        pytest.skip("nginx not installed (make nginx)")
    nginx.write_config(tmp_path, serve.free_port(), [serve.free_port(), serve.free_port()])
    check = subprocess.run([*nginx.command(tmp_path), "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    assert "test is successful" in check.stderr


@pytest.mark.parametrize("env, production, refused", [
    ({}, True, True),                                            # make prod / container, API on, no token
    ({"RASA_AUTH_TOKEN": "t0ken"}, True, False),
    ({"RASA_ENABLE_API": "false"}, True, False),
    ({}, False, False),                                          # make run: loopback only
    ({"RASA_INTERFACE": "0.0.0.0"}, False, True),                # reachable beyond loopback
    ({"RASA_INTERFACE": "0.0.0.0", "RASA_ENABLE_API": "FALSE"}, False, False),
])
def test_the_api_needs_a_token_in_production_and_beyond_loopback(env, production, refused):
    if refused:
        with pytest.raises(serve.ApiTokenMissing, match="RASA_AUTH_TOKEN"):
            serve.check_api_token(env, production)
    else:
        serve.check_api_token(env, production)


def test_rasa_command_line_carries_the_token_or_no_api(monkeypatch):
    for name in ("RASA_AUTH_TOKEN", "RASA_ENABLE_API", "RASA_INTERFACE"):
        monkeypatch.delenv(name, raising=False)
    on = serve.rasa_arguments(ROOT / "m.tar.gz", 5006, {"RASA_AUTH_TOKEN": "t0ken"}, production=True)
    assert on[on.index("--enable-api") + 1:on.index("--enable-api") + 3] == ["--auth-token", "t0ken"]
    assert on[on.index("--interface") + 1] == "127.0.0.1"
    off = serve.rasa_arguments(ROOT / "m.tar.gz", 5006, {"RASA_ENABLE_API": "false"}, production=True)
    assert "--enable-api" not in off and "--auth-token" not in off


def _bot(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("RASA_AUTH_TOKEN", "RASA_ENABLE_API")}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env={**environ, **env},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args", [
    ("serve", "--replicas", "2", "--model", "models/none.tar.gz"),  # make prod
    ("serve", "--check", "--replicas", "2"),                         # make prod's first step
    ("rasa-server", "--model", "models/none.tar.gz"),               # the container's CMD
])
def test_make_prod_and_the_container_refuse_the_api_without_a_token(args):
    refused = _bot(*args, REDIS_URL="redis://127.0.0.1:6379/13")
    assert refused.returncode == 2
    assert "refusing to start" in refused.stderr and "RASA_AUTH_TOKEN" in refused.stderr


def test_the_container_starts_rasa_through_the_checked_command():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert 'CMD ["python", "-m", "bot", "rasa-server"' in dockerfile
    assert "--enable-api" not in dockerfile.split("CMD", 1)[1]
    assert "RASA_ENABLE_API=false" in (ROOT / ".env.example").read_text(encoding="utf-8")


def test_servers_start_quiet_unless_debug_and_a_set_value_wins(monkeypatch):
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delenv("SQLALCHEMY_SILENCE_UBER_WARNING", raising=False)
    quiet = serve._env(None)
    assert quiet["TF_CPP_MIN_LOG_LEVEL"] == "3" and quiet["SQLALCHEMY_SILENCE_UBER_WARNING"] == "1"
    assert "TF_CPP_MIN_LOG_LEVEL" not in serve._env({"LOG_LEVEL": "DEBUG"})
    assert serve._env({"TF_CPP_MIN_LOG_LEVEL": "0"})["TF_CPP_MIN_LOG_LEVEL"] == "0"
