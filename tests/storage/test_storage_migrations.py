"""The Alembic history builds exactly the models' schema on an empty database, and reverses."""
import os
import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from bot.config import ROOT
from bot.storage.db import ALEMBIC_INI, current_revision, downgrade, migrate
from bot.storage.models import metadata

TABLES = {"filing_orders", "tickets", "lookup_attempts"}


def _head() -> str:
    return ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_current_head()


def test_upgrade_head_on_an_empty_database_creates_the_schema(empty_engine):
    assert current_revision(empty_engine) is None
    assert not TABLES & set(inspect(empty_engine).get_table_names())

    migrate(empty_engine)

    inspector = inspect(empty_engine)
    assert TABLES <= set(inspector.get_table_names())
    assert current_revision(empty_engine) == _head()
    # The migration and the models agree: autogenerate would have nothing to add.
    with empty_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
    checks = {c["name"] for c in inspector.get_check_constraints("filing_orders")}
    assert {"ck_filing_orders_status", "ck_filing_orders_subject_type"} <= checks
    uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("tickets")}
    assert {("ticket_no",), ("idempotency_key",)} <= uniques
    index_columns = [i["column_names"] for i in inspector.get_indexes("lookup_attempts")]
    assert ["sender_id", "succeeded", "created_at"] in index_columns


def test_upgrade_is_idempotent_and_the_initial_revision_reverses(empty_engine):
    migrate(empty_engine)
    migrate(empty_engine)  # `db init` twice is harmless
    downgrade(empty_engine, "base")
    assert not TABLES & set(inspect(empty_engine).get_table_names())
    assert current_revision(empty_engine) is None
    migrate(empty_engine)
    assert TABLES <= set(inspect(empty_engine).get_table_names())


def test_the_alembic_command_line_reads_database_url(empty_url, empty_engine):
    """`alembic upgrade head` / `alembic check` from the repo root, as a developer would run them."""
    alembic = [sys.executable, "-m", "alembic"]
    env = {**os.environ, "DATABASE_URL": empty_url.render_as_string(hide_password=False)}
    for args in (["upgrade", "head"], ["check"]):
        done = subprocess.run(alembic + args, cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert "No new upgrade operations detected" in done.stdout + done.stderr
    assert current_revision(empty_engine) == _head()


def test_migration_0004_gives_existing_tickets_a_kind_and_priority_and_reverses(empty_engine):
    migrate(empty_engine, "0003")
    with empty_engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO tickets (ticket_no, sender_id, topic, description, contact, transcript, idempotency_key, "
            "created_at, forward_attempts) VALUES ('BA20261201-0001', 's', 't', 'd', 'c', '[]', 'k', "
            "'2026-12-01 00:00:00', 0)")
    migrate(empty_engine)
    with empty_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT kind, priority FROM tickets").one() == ("question", "normal")
    checks = {c["name"] for c in inspect(empty_engine).get_check_constraints("tickets")}
    assert {"ck_tickets_kind", "ck_tickets_priority"} <= checks
    downgrade(empty_engine, "0003")
    assert {"kind", "priority"}.isdisjoint(c["name"] for c in inspect(empty_engine).get_columns("tickets"))
    with empty_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM tickets").scalar() == 1
