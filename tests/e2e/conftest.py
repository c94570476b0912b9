"""Start the real action server and Rasa server once for the end-to-end tests."""
from __future__ import annotations

import time

import pytest

from bot import serve
from bot.config import ROOT
from servers import MODEL, WECHAT_TOKEN, Bot, free_port


@pytest.fixture(scope="session")
def app_db(tmp_path_factory):
    """A fresh SQLite app database with the demo orders: the embedded default, for real."""
    from bot.storage.db import make_engine
    from bot.storage.orders_csv import create_demo_database

    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'app.db'}"
    assert create_demo_database(url).ok
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


@pytest.fixture(scope="session")
def assistant(tmp_path_factory, app_db):
    if not MODEL.exists():
        pytest.fail(f"{MODEL} missing: run `make test` (it trains first)")
    rasa_port, actions_port = free_port(), free_port()
    workdir = tmp_path_factory.mktemp("servers")
    endpoints = serve.endpoints_file(workdir, actions_port)
    logs = ROOT / "artifacts" / "e2e"
    env = {"RASA_ENDPOINTS": str(endpoints), "DATABASE_URL": app_db[0], "SERVICE_HOURS": "00:00-23:59",
           "COPILOT_TOKENS": "e2e-copilot-token-7f3a9c2d41b6"}  # test_browser_copilot.py
    # WeChat: a known token, and an API base where nothing listens (nothing leaves this machine).
    env.update(WECHAT_TOKEN=WECHAT_TOKEN, WECHAT_API_BASE=f"http://127.0.0.1:{free_port()}")
    processes = serve.start(MODEL, rasa_port, actions_port, env=env, log_dir=logs)
    try:
        up = serve.wait_http(f"http://127.0.0.1:{actions_port}/health", 120) and serve.wait_http(
            f"http://127.0.0.1:{rasa_port}/status", 240)
        if not up:
            pytest.fail(f"servers did not start; see {logs}")
        bot = Bot(f"http://127.0.0.1:{rasa_port}")
        bot.env = env  # what the servers were started with (tokens for the copilot and WeChat tests)
        _warm(bot)
        yield bot
    finally:
        serve.stop(processes)


def _warm(bot: Bot) -> None:
    """The first turn loads lazily built parts (jieba, the FAQ) in both servers."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if bot.say("你好"):
            return
        time.sleep(1)
