"""`orders import`: load or update filing orders from the filing system's CSV export.

Every row is validated on its own; good rows are written, bad rows are reported by line number
with the reason, so one typo never blocks a whole sync. Times are ISO 8601; a time without an
offset is taken as China time (UTC+8), which is what the filing system and its staff mean.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Union

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from bot.nlu.patterns import MOBILE, PROVINCE_BY_ABBR, PROVINCE_BY_FORM, PROVINCES, is_order_id
from bot.storage.models import CHINA_TZ, STATUS_CODES, SUBJECT_TYPES
from bot.storage.repository import upsert_order

COLUMNS: tuple[str, ...] = ("order_no", "subject_name", "subject_type", "phone", "province", "status",
                            "status_detail", "icp_number", "submitted_at", "updated_at")
CANONICAL_PROVINCES = frozenset(name for name, _, _ in PROVINCES)
# Serial lengths vary by era (粤ICP备12345678号, 京ICP备2023001234号), so 6–10 digits.
ICP_NUMBER = re.compile(rf"[{''.join(PROVINCE_BY_ABBR)}]ICP备\d{{6,10}}号(?:-\d{{1,3}})?")
MAX_SUBJECT_NAME = 200


@dataclass(frozen=True)
class RowError:
    line: int  # physical line in the file where the row starts (the header is line 1)
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def render(self, name: str = "") -> str:
        head = f"{name + ': ' if name else ''}{self.created} created, {self.updated} updated, " \
               f"{self.unchanged} unchanged, {len(self.errors)} bad"
        return "\n".join([head, *(f"  {e}" for e in self.errors)])


def import_orders(session: Session, path: Union[str, Path]) -> ImportReport:
    """Validate and upsert every row of `path` into the session (the caller commits)."""
    report = ImportReport()
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError:
        report.errors.append(RowError(1, "the file is not UTF-8 (save it as “CSV UTF-8”)"))
        return report
    reader = csv.reader(io.StringIO(text))
    try:
        header = [name.strip() for name in next(reader, [])]
        problem = _header_problem(header)
    except csv.Error as exc:
        problem = f"unreadable header ({exc})"
    if problem:
        report.errors.append(RowError(1, problem))
        return report

    seen: dict[str, int] = {}
    line = reader.line_num + 1  # where the next record starts
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if any(c.strip() for c in cells):  # blank lines are skipped
                _import_row(session, report, seen, start, dict(zip(header, cells, strict=False)), len(cells))
    except csv.Error as exc:  # e.g. a NUL byte: the reader cannot go on past it
        report.errors.append(RowError(line, f"unreadable CSV ({exc}); the rest of the file was not read"))
    session.flush()
    return report


def _import_row(session: Session, report: ImportReport, seen: dict[str, int], line: int,
                row: dict[str, str], n_cells: int) -> None:
    if n_cells != len(COLUMNS):
        report.errors.append(RowError(line, f"expected {len(COLUMNS)} fields, got {n_cells}"))
        return
    fields, reasons = _validate(row)
    if not reasons and fields["order_no"] in seen:
        reasons.append(f"order_no {fields['order_no']} already on line {seen[fields['order_no']]}")
    if reasons:
        report.errors.append(RowError(line, "; ".join(reasons)))
        return
    seen[fields["order_no"]] = line
    order = upsert_order(session, **fields)
    if inspect(order).pending:
        report.created += 1
    elif session.is_modified(order):
        report.updated += 1
    else:
        report.unchanged += 1


def _header_problem(names: list[str]) -> str:
    """One message for everything wrong with the header (column order does not matter)."""
    if not names:
        return "the file is empty; expected a header row: " + ",".join(COLUMNS)
    missing = [c for c in COLUMNS if c not in names]
    extra = [n for n in names if n not in COLUMNS]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if not (missing or extra or dupes):
        return ""
    parts = [f"missing {', '.join(missing)}" if missing else "",
             f"unexpected {', '.join(repr(e) for e in extra)}" if extra else "",
             f"repeated {', '.join(dupes)}" if dupes else ""]
    return f"bad header ({'; '.join(p for p in parts if p)}); expected exactly: {','.join(COLUMNS)}"


def _validate(row: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The row's values ready for upsert_order, and every reason it is not acceptable."""
    row = {k: v.strip() for k, v in row.items()}
    reasons: list[str] = []

    order_no = row["order_no"].upper()
    if not is_order_id(order_no):
        reasons.append(f"bad order_no {row['order_no']!r} (ICP + date + 5 digits, or YYYYMMDD-NNNN)")
    if not row["subject_name"]:
        reasons.append("empty subject_name")
    elif len(row["subject_name"]) > MAX_SUBJECT_NAME:
        reasons.append(f"subject_name longer than {MAX_SUBJECT_NAME} characters")
    if row["subject_type"] not in SUBJECT_TYPES:
        reasons.append(f"bad subject_type {row['subject_type']!r} (individual or company)")
    if not MOBILE.fullmatch(row["phone"]):
        reasons.append(f"bad phone {row['phone']!r} (11-digit mainland mobile)")
    if row["province"] not in CANONICAL_PROVINCES:
        hint = PROVINCE_BY_FORM.get(row["province"])
        reasons.append(f"unknown province {row['province']!r}" + (f" (write {hint!r})" if hint else ""))
    if row["status"] not in STATUS_CODES:
        reasons.append(f"unknown status {row['status']!r}")
    icp_number = row["icp_number"] or None
    if icp_number and not ICP_NUMBER.fullmatch(icp_number):
        reasons.append(f"bad icp_number {icp_number!r}")
    if row["status"] == "approved" and not icp_number:
        reasons.append("approved order without icp_number")
    times = {}
    for name in ("submitted_at", "updated_at"):
        try:
            times[name] = _parse_time(row[name])
        except ValueError:
            reasons.append(f"bad {name} {row[name]!r} (ISO 8601, e.g. 2026-11-04T09:30:00+08:00)")
    if len(times) == 2 and times["updated_at"] < times["submitted_at"]:
        reasons.append("updated_at is before submitted_at")

    fields = dict(order_no=order_no, subject_name=row["subject_name"], subject_type=row["subject_type"],
                  phone=row["phone"], province=row["province"], status=row["status"],
                  status_detail=row["status_detail"], icp_number=icp_number, **times)
    return fields, reasons


def _parse_time(value: str) -> datetime:
    if value[-1:] in ("Z", "z"):  # fromisoformat() before Python 3.11 does not take "Z"
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CHINA_TZ)
    return parsed.astimezone(timezone.utc)


DEMO_CSV = Path(__file__).resolve().parents[2] / "data" / "demo" / "orders.csv"


def create_demo_database(url: str) -> ImportReport:
    """Migrate the database at `url` and load the demo orders (tests, benchmark; `make run` uses the CLI)."""
    from bot.storage.db import make_engine, migrate, session_scope

    engine = make_engine(url)
    try:
        migrate(engine)
        with session_scope(engine) as session:
            return import_orders(session, DEMO_CSV)
    finally:
        engine.dispose()

