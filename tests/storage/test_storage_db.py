"""Engine and session helpers: URL resolution, SQLite settings, caching, commit/rollback."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.config import ROOT
from bot.storage.db import database_url, get_engine, make_engine, session_scope
from bot.storage.models import Ticket
from bot.storage.repository import create_ticket


def test_default_url_is_var_app_db_under_the_repo_root():
    assert database_url({}).database == str(ROOT / "var" / "app.db")
    assert database_url({"DATABASE_URL": "sqlite:///data/x.db"}).database == str(ROOT / "data" / "x.db")
    assert database_url({"DATABASE_URL": "sqlite:////tmp/x.db"}).database == "/tmp/x.db"
    pg = "postgresql://app:secret@db:5432/beian"
    assert database_url({"DATABASE_URL": pg}).render_as_string(hide_password=False) == pg


def test_get_engine_is_cached_per_url_and_creates_the_folder(tmp_path, database_url_env):
    database_url_env(make_url(f"sqlite:///{tmp_path / 'var' / 'app.db'}"))
    engine = get_engine()
    assert (tmp_path / "var").is_dir() and get_engine() is engine
    database_url_env(make_url(f"sqlite:///{tmp_path / 'other.db'}"))
    assert get_engine() is not engine


def test_sqlite_engines_enable_foreign_keys_and_wal(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    engine.dispose()


def test_importing_the_storage_layer_opens_no_database(tmp_path):
    target = tmp_path / "never" / "app.db"
    code = ("import bot.storage.cli, bot.storage.models, bot.storage.orders_csv, bot.storage.privacy, "
            "bot.storage.repository; from bot.storage import db; assert db._engines == {}")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                   env={**os.environ, "DATABASE_URL": f"sqlite:///{target}"})
    assert not target.parent.exists()


def test_session_scope_commits_or_rolls_back(engine):
    with pytest.raises(RuntimeError):
        with session_scope(engine) as session:
            create_ticket(session, idempotency_key="a", sender_id="s", topic="t", description="d", contact="c")
            session.flush()
            raise RuntimeError("boom")
    with session_scope(engine) as session:
        create_ticket(session, idempotency_key="b", sender_id="s", topic="t", description="d", contact="c")
    with session_scope(engine) as session:
        assert [t.idempotency_key for t in session.execute(select(Ticket)).scalars()] == ["b"]
