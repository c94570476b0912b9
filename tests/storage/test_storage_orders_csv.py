"""`import_orders`: good rows land, bad rows are reported by line, a re-import updates."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select

from bot.config import ROOT
from bot.nlu.patterns import PROVINCES, is_order_id
from bot.storage.db import session_scope
from bot.storage.models import STATUS_CODES, FilingOrder
from bot.storage.orders_csv import COLUMNS, import_orders
from bot.storage.repository import get_order

DEMO = ROOT / "data" / "demo" / "orders.csv"
HEADER = ",".join(COLUMNS)
GOOD = [
    "ICP2026110400318,深圳市蓝鲸湾电子商务有限公司,company,13700001212,广东,approved,管局审核通过,"
    "粤ICP备20260318号,2026-11-04T10:02:00+08:00,2026-11-21T16:30:00+08:00",
    "20261118-3306,周若溪,individual,13900004444,浙江,provider_rejected,身份证照片模糊，请重新上传,,"
    "2026-11-18T20:31:00+08:00,2026-11-19T16:45:00Z",
    "ICP2026111600733,上海栖木网络科技有限公司,company,13900006666,上海,bureau_review,,,"
    "2026-11-16 11:47:00,2026-11-20T09:30:00",  # no offset: China time
]


def _write(tmp_path: Path, *lines: str, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _import(engine, path: Path):
    with session_scope(engine) as session:
        return import_orders(session, path)


def _orders(engine) -> dict[str, FilingOrder]:
    with session_scope(engine) as session:
        return {o.order_no: o for o in session.execute(select(FilingOrder)).scalars()}


def test_demo_csv_imports_cleanly_and_covers_what_the_demo_needs(engine):
    report = _import(engine, DEMO)
    assert report.ok, report.render()
    orders = _orders(engine)
    assert report.created == len(orders) >= 12
    assert set(STATUS_CODES) == {o.status for o in orders.values()}
    assert {"individual", "company"} == {o.subject_type for o in orders.values()}
    assert any(n.startswith("ICP") for n in orders) and any("-" in n for n in orders)
    assert len({o.province for o in orders.values()}) >= 5
    assert len({o.phone[-4:] for o in orders.values()}) == len(orders)  # identity check tells them apart
    for o in orders.values():
        assert is_order_id(o.order_no)
        assert bool(o.icp_number) == (o.status == "approved")
        if o.status.endswith("rejected"):
            assert len(o.status_detail) > 10, o.order_no


def test_good_rows_are_imported_and_bad_rows_reported_by_line(engine, tmp_path):
    path = _write(
        tmp_path, HEADER, GOOD[0],
        "ICP2026023000001,某某公司,company,13900001234,广东,draft,,,2026-02-28T09:00:00+08:00,"
        "2026-02-28T09:00:00+08:00",  # line 3: Feb 30th is no date
        "ICP20261104003,某某公司,company,13900001234,广东,draft,,,2026-11-04T09:00:00+08:00,"
        "2026-11-04T09:00:00+08:00",  # line 4: too short
        GOOD[1],
        "20261105-0942,某某公司,company,1380000123,广东,draft,,,2026-11-05T09:00:00+08:00,"
        "2026-11-05T09:00:00+08:00",  # line 6: 10-digit phone
        "20261106-0001,某某公司,company,13800001234,广东,pending,,,2026-11-06T09:00:00+08:00,"
        "2026-11-06T09:00:00+08:00",  # line 7: unknown status
        "20261107-0001,某某公司,company,13800001234,广东,draft,,,2026-11-31T09:00:00+08:00,"
        "yesterday",  # line 8: bad times
        "",  # blank line 9 is skipped
        "20261108-0001,某某公司,person,13800001234,广东省,draft,,,2026-11-08T09:00:00+08:00,"
        "2026-11-08T09:00:00+08:00",  # line 10: subject type and province form
        '"20261109-0001","多行\n名称",company,13800001234,广东,draft,,,2026-11-09T09:00:00+08:00',  # 11-12
        GOOD[2],  # line 13
        GOOD[0].replace("13700001212", "13700009999"),  # line 14: same order twice in one file
    )
    report = _import(engine, path)

    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    assert set(_orders(engine)) == {"ICP2026110400318", "20261118-3306", "ICP2026111600733"}
    by_line = {e.line: e.reason for e in report.errors}
    assert sorted(by_line) == [3, 4, 6, 7, 8, 10, 11, 14]
    assert "bad order_no 'ICP2026023000001'" in by_line[3]
    assert "bad order_no" in by_line[4]
    assert "bad phone '1380000123'" in by_line[6]
    assert "unknown status 'pending'" in by_line[7]
    assert "bad submitted_at" in by_line[8] and "bad updated_at" in by_line[8]
    assert "bad subject_type 'person'" in by_line[10] and "(write '广东')" in by_line[10]
    assert "expected 10 fields, got 9" in by_line[11]
    assert "already on line 2" in by_line[14]
    assert "line 3: bad order_no" in report.render()


def test_times_are_stored_as_utc_and_a_missing_offset_means_china_time(engine, tmp_path):
    _import(engine, _write(tmp_path, HEADER, *GOOD))
    orders = _orders(engine)
    assert orders["20261118-3306"].updated_at == datetime(2026, 11, 19, 16, 45, tzinfo=timezone.utc)
    assert orders["ICP2026111600733"].submitted_at == datetime(2026, 11, 16, 3, 47, tzinfo=timezone.utc)
    assert orders["ICP2026111600733"].icp_number is None


def test_reimport_updates_instead_of_duplicating(engine, tmp_path):
    first = _import(engine, _write(tmp_path, HEADER, *GOOD))
    assert (first.created, first.updated) == (3, 0)

    changed = GOOD[1].replace("provider_rejected,身份证照片模糊，请重新上传", "provider_review,已重新提交") \
                     .replace("2026-11-19T16:45:00Z", "2026-11-20T08:00:00+08:00")
    second = _import(engine, _write(tmp_path, HEADER, GOOD[0], changed, GOOD[2], name="again.csv"))

    assert (second.created, second.updated, second.unchanged, second.errors) == (0, 1, 2, [])
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(FilingOrder)).scalar_one() == 3
        order = get_order(session, "20261118-3306")
        assert (order.status, order.status_detail) == ("provider_review", "已重新提交")


def test_a_wrong_header_is_one_clear_error_and_nothing_is_imported(engine, tmp_path):
    header = HEADER.replace("status_detail,", "detail,").replace(",updated_at", "")
    report = _import(engine, _write(tmp_path, header, *GOOD))
    assert [(e.line, e.reason[:10]) for e in report.errors] == [(1, "bad header")]
    assert "missing status_detail, updated_at" in report.errors[0].reason
    assert "unexpected 'detail'" in report.errors[0].reason
    assert _orders(engine) == {}


def test_header_order_bom_encoding_and_unreadable_bytes(engine, tmp_path):
    cols = list(COLUMNS)
    reordered = [cols[-1], *cols[:-1]]
    row = GOOD[0].split(",")
    line = ",".join([row[-1], *row[:-1]])
    bom = tmp_path / "bom.csv"
    bom.write_text(",".join(reordered) + "\n" + line + "\n", encoding="utf-8-sig")
    assert _import(engine, bom).created == 1

    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes((HEADER + "\n" + GOOD[1] + "\n").encode("gbk"))
    report = _import(engine, gbk)
    assert [e.line for e in report.errors] == [1] and "UTF-8" in report.errors[0].reason

    nul = _write(tmp_path, HEADER, GOOD[1], "20261118-3307,坏\x00行", GOOD[2], name="nul.csv")
    report = _import(engine, nul)
    assert [e.line for e in report.errors] == [3] and "NUL" in report.errors[0].reason
    assert report.created == 1


def test_provinces_accepted_are_exactly_the_31_canonical_names(engine, tmp_path):
    rows = [f"202611{1 + i // 9:02d}-{i:04d},主体{i},company,139{i:08d},{name},draft,,,"
            "2026-11-01T09:00:00+08:00,2026-11-01T09:00:00+08:00" for i, (name, _, _) in enumerate(PROVINCES)]
    report = _import(engine, _write(tmp_path, HEADER, *rows))
    assert report.ok and report.created == 31
