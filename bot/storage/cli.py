"""`python -m bot orders import FILE.csv` and `python -m bot db init`, registered on bot/cli.py's parser.

Imports are inside the handlers so `python -m bot faq build` never loads SQLAlchemy or Alembic.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `orders` and `db` command groups to the main CLI's subparsers."""
    orders = subparsers.add_parser("orders", help="filing orders in the app database")
    orders_sub = orders.add_subparsers(dest="orders_command", required=True)
    imp = orders_sub.add_parser("import", help="load or update orders from a CSV (exit 1 on any bad row)")
    imp.add_argument("file", type=Path, metavar="FILE.csv")
    imp.set_defaults(func=_orders_import)

    db = subparsers.add_parser("db", help="the app database (DATABASE_URL, default var/app.db)")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser(
        "init", help="create the database if needed and upgrade the schema (alembic upgrade head)",
    ).set_defaults(func=_db_init)


def _where() -> str:
    from bot.storage.db import database_url

    return database_url().render_as_string(hide_password=True)


def _db_init(args: argparse.Namespace) -> int:
    from bot.storage.db import current_revision, database_url, ensure_database, get_engine, migrate

    if ensure_database(database_url()):
        print(f"{_where()}: database created")
    engine = get_engine()
    migrate(engine)
    print(f"{_where()}: schema at revision {current_revision(engine)}")
    return 0


def _orders_import(args: argparse.Namespace) -> int:
    from sqlalchemy import inspect

    from bot.storage.db import get_engine, session_scope
    from bot.storage.orders_csv import import_orders

    if not args.file.is_file():
        print(f"{args.file}: no such file")
        return 2
    engine = get_engine()
    if not inspect(engine).has_table("filing_orders"):
        print(f"{_where()} has no schema yet; run `python -m bot db init` first")
        return 2
    with session_scope(engine) as session:
        report = import_orders(session, args.file)
    print(report.render(str(args.file)))
    return 0 if report.ok else 1
