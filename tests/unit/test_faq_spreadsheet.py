"""The knowledge base as a spreadsheet: export, edit, import back (on a copy of faq/ in tmp_path)."""
import csv
import difflib
import io
import json
import shutil
import subprocess
import sys

import pytest
import yaml

from bot.config import ROOT
from bot.faq.kb import group_files, load_kb
from bot.faq.spreadsheet import COLUMNS, edit_group_text, export_csv, import_csv, render_field

HELDOUT = ROOT / "tests" / "heldout"
NLU_DIR = ROOT / "data" / "nlu"


@pytest.fixture
def faq_dir(tmp_path):
    target = tmp_path / "faq"
    shutil.copytree(ROOT / "faq", target)
    return target


def snapshot(folder):
    return {p.name: p.read_bytes() for p in group_files(folder)}


def read_rows(path):
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


def write_rows(path, rows, *, crlf_cells=False, bom=True):
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: v.replace("\n", "\r\n") if crlf_cells else v for k, v in row.items()})
    path.write_bytes(out.getvalue().encode("utf-8-sig" if bom else "utf-8"))


def row_for(rows, topic_id):
    return next(r for r in rows if r["id"] == topic_id)


def do_import(path, faq_dir):
    return import_csv(path, faq_dir, heldout=[HELDOUT], nlu_dir=NLU_DIR)


def test_export_is_excel_friendly_and_complete(faq_dir, tmp_path, kb):
    sheet = tmp_path / "faq.csv"
    assert export_csv(faq_dir, sheet) == len(kb.topics)
    raw = sheet.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # BOM: Excel reads it as UTF-8
    rows = read_rows(sheet)
    assert tuple(rows[0]) == COLUMNS
    assert [r["id"] for r in rows] == [t.id for t in kb.topics]  # file order, then topic order
    topic = kb.get("materials_individual")
    row = row_for(rows, "materials_individual")
    assert row["answer"] == topic.answer and row["examples"].split("\n") == list(topic.examples)
    assert row["related"].split("; ") == list(topic.related)
    assert json.loads(row["facets"]) == {"subject": "individual"} and row["reviewed"] == topic.reviewed
    assert row_for(rows, "need_filing_or_not")["facets"] == ""


def test_round_trip_without_edits_is_byte_identical(faq_dir, tmp_path):
    before = snapshot(faq_dir)
    sheet = tmp_path / "faq.csv"
    export_csv(faq_dir, sheet)
    result = do_import(sheet, faq_dir)
    assert result.ok and result.changed == {}
    assert snapshot(faq_dir) == before


def test_every_field_renders_as_the_hand_written_files_do(faq_dir):
    """Rewriting a topic with its own values leaves its file as it was (the style is the files')."""
    for path in group_files(faq_dir):
        text = path.read_text(encoding="utf-8")
        topics = yaml.safe_load(text)["topics"]
        changes = {str(t["id"]): {k: t[k] for k in ("question", "answer", "related", "source")} for t in topics}
        assert edit_group_text(text, changes) == text, path.name


def test_an_edited_answer_lands_in_its_file_and_nothing_else_changes(faq_dir, tmp_path):
    before = snapshot(faq_dir)
    sheet = tmp_path / "faq.csv"
    export_csv(faq_dir, sheet)
    rows = read_rows(sheet)
    row = row_for(rows, "bureau_review_duration")
    row["answer"] = row["answer"] + "\n- 新增的一行：审核期间不要改动网站内容。"
    row["examples"] += "\n管局审核期间能改网站吗 会影响审核吗"
    row["reviewed"] = "2026/12/1"  # how Excel saves a date cell
    write_rows(sheet, rows)

    result = do_import(sheet, faq_dir)
    assert result.ok, result.errors
    assert {p.name: ids for p, ids in result.changed.items()} == {"process.yml": ["bureau_review_duration"]}
    after = snapshot(faq_dir)
    assert {name for name in after if after[name] != before[name]} == {"process.yml"}
    topic = load_kb(faq_dir).get("bureau_review_duration")
    assert topic.answer.endswith("审核期间不要改动网站内容。") and topic.reviewed == "2026-12-01"
    assert topic.examples[-1] == "管局审核期间能改网站吗 会影响审核吗"
    diff = list(difflib.unified_diff(before["process.yml"].decode().splitlines(),
                                     after["process.yml"].decode().splitlines(), n=0, lineterm=""))
    assert [d for d in diff if d[:1] in "+-" and d[:3] not in ("+++", "---")] == [
        "+    - 新增的一行：审核期间不要改动网站内容。",
        "+  - 管局审核期间能改网站吗 会影响审核吗",
        "-  reviewed: 2026-11-30",
        "+  reviewed: 2026-12-01",
    ]
    kb_before = {t.id: t for t in load_kb(ROOT / "faq").topics}
    for t in load_kb(faq_dir).topics:
        if t.id != "bureau_review_duration":
            assert t == kb_before[t.id]


def test_bad_rows_are_reported_with_row_numbers_and_nothing_changes(faq_dir, tmp_path):
    before = snapshot(faq_dir)
    sheet = tmp_path / "faq.csv"
    export_csv(faq_dir, sheet)
    rows = read_rows(sheet)
    index = {r["id"]: n for n, r in enumerate(rows, start=2)}  # Excel's row numbers: the header is 1
    row_for(rows, "filing_free")["answer"] = "   "
    row_for(rows, "materials_individual")["answer"] = "请准备好证件。"  # lacks the must_mention 身份证
    row_for(rows, "contact_hotline")["id"] = "no_such_topic"
    write_rows(sheet, rows)

    result = do_import(sheet, faq_dir)
    assert not result.ok
    text = "\n".join(result.errors)
    assert f"row {index['filing_free']}: filing_free: empty answer" in text
    assert f"row {index['contact_hotline']}: unknown topic id 'no_such_topic'" in text
    assert "topic contact_hotline has no row" in text
    assert snapshot(faq_dir) == before

    # With the row-level errors fixed, the checker's judgement comes back with the row too.
    rows = read_rows(sheet)
    row_for(rows, "filing_free")["answer"] = row_for(read_rows_fresh(faq_dir, tmp_path), "filing_free")["answer"]
    row_for(rows, "no_such_topic")["id"] = "contact_hotline"
    write_rows(sheet, rows)
    result = do_import(sheet, faq_dir)
    assert result.errors and all(e.startswith(f"row {index['materials_individual']}: ") for e in result.errors)
    assert "must_mention" in result.errors[0]
    assert snapshot(faq_dir) == before


def read_rows_fresh(faq_dir, tmp_path):
    fresh = tmp_path / "fresh.csv"
    export_csv(faq_dir, fresh)
    return read_rows(fresh)


def test_examples_that_collide_with_another_topic_are_rejected(faq_dir, tmp_path, kb):
    sheet = tmp_path / "faq.csv"
    export_csv(faq_dir, sheet)
    rows = read_rows(sheet)
    row_for(rows, "filing_free")["examples"] += "\n" + kb.get("materials_company").examples[0]
    write_rows(sheet, rows)
    result = do_import(sheet, faq_dir)
    assert any("near-identical" in e and f"row {[r['id'] for r in rows].index('filing_free') + 2}" in e
               for e in result.errors), result.errors


def test_excel_crlf_cells_and_a_missing_bom_are_read_alike(faq_dir, tmp_path):
    before = snapshot(faq_dir)
    sheet = tmp_path / "faq.csv"
    export_csv(faq_dir, sheet)
    rows = read_rows(sheet)
    write_rows(sheet, rows, crlf_cells=True)  # line breaks inside cells as CRLF
    assert b"\r\n" in sheet.read_bytes()
    assert do_import(sheet, faq_dir).changed == {} and snapshot(faq_dir) == before
    write_rows(sheet, rows, bom=False)
    assert do_import(sheet, faq_dir).changed == {} and snapshot(faq_dir) == before
    row_for(rows, "filing_free")["question"] = "华为云备案要收费吗？"
    write_rows(sheet, rows, crlf_cells=True)
    result = do_import(sheet, faq_dir)
    assert result.ok and load_kb(faq_dir).get("filing_free").question == "华为云备案要收费吗？"


def test_a_sheet_saved_in_a_legacy_encoding_or_without_our_columns_is_refused(faq_dir, tmp_path):
    sheet = tmp_path / "faq.csv"
    sheet.write_bytes("id,group,question\r\nfiling_free,before_filing,备案收费吗\r\n".encode("gbk"))
    assert "not UTF-8" in do_import(sheet, faq_dir).errors[0]
    sheet.write_text("id,group,question\r\nfiling_free,before_filing,备案收费吗\r\n", encoding="utf-8-sig")
    assert do_import(sheet, faq_dir).errors[0].startswith("row 1: missing column(s) answer")


def test_awkward_values_are_written_so_they_read_back(faq_dir, tmp_path):
    sheet = tmp_path / "faq.csv"
    export_csv(faq_dir, sheet)
    rows = read_rows(sheet)
    row = row_for(rows, "filing_free")
    row["question"] = "yes: 备案 # 收费吗?"
    row["source"] = "2026-11-30"
    row["facets"] = '{"subject": "company"}'
    write_rows(sheet, rows)
    assert do_import(sheet, faq_dir).ok
    topic = load_kb(faq_dir).get("filing_free")
    assert (topic.question, topic.source, topic.facets) == ("yes: 备案 # 收费吗?", "2026-11-30", {"subject": "company"})
    assert render_field("facets", {"subject": "company"}) == "  facets: {subject: company}\n"


def test_the_cli_round_trip(faq_dir, tmp_path):
    sheet = tmp_path / "faq.csv"
    before = snapshot(faq_dir)
    for args in (["export", str(sheet)], ["import", str(sheet)]):
        done = subprocess.run([sys.executable, "-m", "bot", "faq", *args, "--faq-dir", str(faq_dir)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    assert "0 topics changed" in done.stdout
    assert snapshot(faq_dir) == before
