"""`db init` and `orders import` as registered on an argparse parser, against a real database."""
from __future__ import annotations

import argparse

from sqlalchemy.engine import make_url

from bot.config import ROOT
from bot.storage import cli

DEMO = ROOT / "data" / "demo" / "orders.csv"


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_db_init_then_import_demo_then_bad_rows_exit_1(empty_url, database_url_env, tmp_path, capsys):
    database_url_env(empty_url)

    assert _run("orders", "import", str(DEMO)) == 2
    assert "db init" in capsys.readouterr().out

    assert _run("db", "init") == 0
    assert f"schema at revision {_head()}" in capsys.readouterr().out

    assert _run("orders", "import", str(DEMO)) == 0
    assert "13 created, 0 updated, 0 unchanged, 0 bad" in capsys.readouterr().out

    bad = tmp_path / "bad.csv"
    bad.write_text(DEMO.read_text(encoding="utf-8").replace("ICP2026112700087", "ICP2026113100087"),
                   encoding="utf-8")
    assert _run("orders", "import", str(bad)) == 1
    out = capsys.readouterr().out
    assert "0 created, 0 updated, 12 unchanged, 1 bad" in out
    assert "line 3: bad order_no 'ICP2026113100087'" in out


def test_import_of_a_missing_file_says_so(database_url_env, tmp_path, capsys):
    database_url_env(make_url(f"sqlite:///{tmp_path / 'x.db'}"))
    assert _run("orders", "import", str(tmp_path / "nope.csv")) == 2
    assert "no such file" in capsys.readouterr().out


def _head() -> str:
    """The newest migration, so this test does not change with every new revision."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from bot.storage.db import ALEMBIC_INI

    return ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_current_head()



def test_db_init_creates_a_missing_postgresql_database(pg_databases, database_url_env, capsys):
    from sqlalchemy import create_engine

    from bot.storage.db import ensure_database

    existing = pg_databases()  # an empty database the session drops at the end; rename it away
    name = existing.database + "_new"
    admin = create_engine(existing.set(database="postgres"), isolation_level="AUTOCOMMIT", future=True)
    try:
        url = existing.set(database=name)
        database_url_env(url)
        assert _run("db", "init") == 0
        assert "database created" in capsys.readouterr().out
        assert ensure_database(url) is False  # second time: already there
    finally:
        from bot.storage import db

        db.dispose_engines()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        admin.dispose()
