"""The knowledge base as a spreadsheet, for content owners who edit in Excel rather than YAML.

`export_csv` writes one row per topic; `import_csv` writes an edited sheet back into `faq/*.yml`.
The import is all-or-nothing: every row is checked (and the whole candidate knowledge base goes
through `bot.faq.checker`) before any file is touched, and problems are reported with the row
number Excel shows (the header is row 1). Only the fields that changed are rewritten, in place,
so hand-written formatting, each topic's group file and the topic order all survive, and a round
trip without edits leaves every file byte for byte as it was.

Columns (UTF-8 with a BOM, CRLF rows: what Excel writes as "CSV UTF-8"):

    id         topic id (not editable: it names the topic)
    group      the topic's group file (not editable: the spec fixes it)
    question   the canonical question
    answer     the answer, line breaks inside the cell
    examples   training questions, one per line inside the cell
    related    related topic ids, separated by ";"
    facets     JSON object, e.g. {"subject": "individual"}; empty for none
    source     where the facts come from (free text)
    reviewed   date of the last review, YYYY-MM-DD (Excel's 2026/11/30 is accepted)
"""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import yaml

from bot.faq import compiler
from bot.faq.kb import SPEC_FILE, group_files, load_kb

COLUMNS = ("id", "group", "question", "answer", "examples", "related", "facets", "source", "reviewed")
# Where a topic's fields go in its YAML block (a field a topic lacks is inserted at its place).
FIELD_ORDER = ("id", "question", "answer", "examples", "related", "facets", "source", "reviewed")
_FIELD_LINE = re.compile(r"^  ([A-Za-z_]\w*):(?: |$)")
_DATE = re.compile(r"^\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?\s*$")
_TOPIC_IN_PROBLEM = re.compile(r"faq/(\w+)")
GENERATED_NAME = "faq.yml"  # data/nlu/faq.yml, compiled from faq/ by `python -m bot faq build`


# --- reading the YAML side -------------------------------------------------------------------------


def _raw_topics(path: Path) -> list[dict]:
    return list((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("topics") or [])


def _group_name(path: Path) -> str:
    return str((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("group", path.stem))


def _fields(raw: dict) -> dict[str, Any]:
    """A topic's editable values in the form the sheet holds them (strings, lists, a dict)."""
    reviewed = raw.get("reviewed", "")
    return {
        "question": str(raw.get("question", "")),
        "answer": str(raw.get("answer", "")),
        "examples": [str(e) for e in raw.get("examples") or ()],
        "related": [str(r) for r in raw.get("related") or ()],
        "facets": dict(raw.get("facets") or {}),
        "source": str(raw.get("source", "")),
        "reviewed": reviewed.isoformat() if isinstance(reviewed, date) else str(reviewed),
    }


# --- export ----------------------------------------------------------------------------------------


def _export_row(raw: dict, group: str) -> dict[str, str]:
    f = _fields(raw)
    return {
        "id": str(raw["id"]), "group": group, "question": f["question"], "answer": f["answer"],
        "examples": "\n".join(f["examples"]), "related": "; ".join(f["related"]),
        "facets": json.dumps(f["facets"], ensure_ascii=False) if f["facets"] else "",
        "source": f["source"], "reviewed": f["reviewed"],
    }


def _topic_rows(faq_dir: Path) -> list[tuple[Path, dict[str, str]]]:
    """(group file, sheet row) for every topic, in file and topic order."""
    return [(path, _export_row(raw, group)) for path in group_files(faq_dir)
            for group in [_group_name(path)] for raw in _raw_topics(path)]


def export_rows(faq_dir: Path) -> list[dict[str, str]]:
    return [row for _, row in _topic_rows(faq_dir)]


def export_csv(faq_dir: Path, target: Path) -> int:
    """Write every topic as one row; returns the number of rows."""
    rows = export_rows(faq_dir)
    with open(target, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


# --- parsing the sheet -----------------------------------------------------------------------------


def _cell_text(value: Optional[str]) -> str:
    """Excel may save line breaks inside a cell as CRLF (or a lone CR)."""
    return (value or "").replace("\r\n", "\n").replace("\r", "\n")


def _parse_row(row: Mapping[str, Optional[str]]) -> tuple[dict[str, Any], list[str]]:
    """A sheet row as topic fields, and what is wrong with it on its own."""
    errors = []
    values: dict[str, Any] = {
        "question": _cell_text(row.get("question")).strip(),
        "answer": _cell_text(row.get("answer")).strip("\n").rstrip(),
        "examples": [line.strip() for line in _cell_text(row.get("examples")).split("\n") if line.strip()],
        "related": [r for r in re.split(r"[;,；，\s]+", _cell_text(row.get("related"))) if r],
        "source": _cell_text(row.get("source")).strip(),
    }
    if not values["answer"].strip():
        errors.append("empty answer")
    facets_cell = _cell_text(row.get("facets")).strip()
    try:
        facets = json.loads(facets_cell) if facets_cell else {}
        if not isinstance(facets, dict):
            raise ValueError
        values["facets"] = facets
    except ValueError:
        errors.append(f"facets is not a JSON object: {facets_cell!r}")
    reviewed = _cell_text(row.get("reviewed")).strip()
    match = _DATE.match(reviewed)
    try:
        values["reviewed"] = date(*(int(g) for g in match.groups())).isoformat() if match else None
    except ValueError:
        values["reviewed"] = None
    if values["reviewed"] is None:
        errors.append(f"reviewed is not a date (YYYY-MM-DD): {reviewed!r}")
    return values, errors


def read_sheet(source: Path) -> tuple[list[tuple[int, dict[str, Optional[str]]]], list[str]]:
    """(Excel row number, row) pairs, or the reason the file cannot be read as our sheet."""
    try:
        text = Path(source).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], ["the file is not UTF-8: in Excel choose 另存为 → “CSV UTF-8（逗号分隔）”"]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        return [], [f"row 1: missing column(s) {', '.join(missing)} (expected {', '.join(COLUMNS)})"]
    reader.fieldnames = header
    rows = [(n, row) for n, row in enumerate(reader, start=2) if any((v or "").strip() for v in row.values()
                                                                    if isinstance(v, str))]
    return rows, []


# --- writing the YAML side -------------------------------------------------------------------------


def _plain_ok(text: str, wrap: str) -> bool:
    """Would `text` read back as itself unquoted in this position (`wrap` holds one `{}`)?"""
    if not text or text != text.strip() or "\n" in text:
        return False
    try:
        return yaml.safe_load(wrap.format(text)) == yaml.safe_load(wrap.format(json.dumps(text, ensure_ascii=False)))
    except yaml.YAMLError:
        return False


def _scalar(text: str, wrap: str = "k: {}") -> str:
    return text if _plain_ok(text, wrap) else json.dumps(text, ensure_ascii=False)


def _flow(value: Any) -> str:
    """A list or mapping of plain strings in the knowledge base's flow style: `[a, b]`, `{k: v}`."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(str(k), '{{{}: x}}')}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(str(value), "[{}]")


def render_field(name: str, value: Any) -> str:
    """The YAML lines of one topic field, in the style the hand-written files use."""
    if name == "answer":
        lines = value.split("\n")
        if lines[0] and not lines[0][0].isspace() and all(line == line.rstrip() for line in lines):
            return "  answer: |-\n" + "".join(f"    {line}\n" if line else "\n" for line in lines)
        return f"  answer: {json.dumps(value, ensure_ascii=False)}\n"
    if name == "examples":
        return "  examples:\n" + "".join(f"  - {_scalar(e, '- {}')}\n" for e in value)
    if name in ("related", "facets"):
        return f"  {name}: {_flow(value)}\n"
    if name == "reviewed":
        return f"  reviewed: {value}\n"  # read back as a date, as hand-written
    return f"  {name}: {_scalar(value)}\n"


def _topic_blocks(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) line ranges of the `- id:` items under `topics:`."""
    starts = [i for i, line in enumerate(lines) if line.startswith("- id:")]
    return [(s, starts[k + 1] if k + 1 < len(starts) else len(lines)) for k, s in enumerate(starts)]


def _field_spans(lines: list[str], start: int, end: int) -> dict[str, tuple[int, int]]:
    """Where each field of one topic block is: the `- id:` line, then `  key:` lines."""
    heads = [(start, "id")] + [(i, m.group(1)) for i in range(start + 1, end)
                              for m in [_FIELD_LINE.match(lines[i])] if m]
    return {name: (i, heads[k + 1][0] if k + 1 < len(heads) else end) for k, (i, name) in enumerate(heads)}


def edit_group_text(text: str, changes: dict[str, dict[str, Any]]) -> str:
    """The group file with only the changed fields of the changed topics rewritten."""
    lines = text.splitlines(keepends=True)
    for start, end in reversed(_topic_blocks(lines)):
        topic_id = str(yaml.safe_load(lines[start][2:])["id"])
        if topic_id not in changes:
            continue
        spans = _field_spans(lines, start, end)
        # Apply bottom-up so earlier spans keep their line numbers.
        edits: list[tuple[int, int, list[str]]] = []
        for name, value in changes[topic_id].items():
            new = [] if name == "facets" and not value else render_field(name, value).splitlines(keepends=True)
            if name in spans:
                edits.append((*spans[name], new))
            elif new:
                later = [spans[n][0] for n in FIELD_ORDER[FIELD_ORDER.index(name) + 1:] if n in spans]
                at = min(later) if later else end
                edits.append((at, at, new))
        for a, b, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
            lines[a:b] = new
    return "".join(lines)


# --- import ----------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    errors: list[str] = field(default_factory=list)
    changed: dict[Path, list[str]] = field(default_factory=dict)  # file → topic ids rewritten

    @property
    def ok(self) -> bool:
        return not self.errors


def _row_of(problem: str, rows_by_topic: dict[str, int]) -> str:
    """A checker problem prefixed with the sheet rows of the topics it names."""
    head = problem.split(":", 2)
    named = ([head[1]] if len(head) > 2 and head[1] in rows_by_topic else []) + _TOPIC_IN_PROBLEM.findall(problem)
    rows = sorted({rows_by_topic[t] for t in named if t in rows_by_topic})
    return f"row {', '.join(map(str, rows))}: {problem}" if rows else problem


def import_csv(source: Path, faq_dir: Path, *, heldout: Iterable[Path] = (), nlu_dir: Optional[Path] = None,
               dry_run: bool = False) -> ImportResult:
    """Write an edited sheet back into `faq_dir`, or report why not and change nothing."""
    faq_dir = Path(faq_dir)
    result = ImportResult()
    sheet, result.errors = read_sheet(source)
    if result.errors:
        return result
    current = {row["id"]: (path, row) for path, row in _topic_rows(faq_dir)}
    seen: dict[str, int] = {}
    changes: dict[Path, dict[str, dict[str, Any]]] = {}
    for number, row in sheet:
        topic_id = (row.get("id") or "").strip()
        if topic_id not in current:
            result.errors.append(f"row {number}: unknown topic id {topic_id!r} (topics are added in faq/, not here)")
            continue
        if topic_id in seen:
            result.errors.append(f"row {number}: topic {topic_id} is also on row {seen[topic_id]}")
            continue
        seen[topic_id] = number
        path, exported = current[topic_id]
        group = exported["group"]
        if (row.get("group") or "").strip() != group:
            result.errors.append(f"row {number}: {topic_id} belongs to group {group!r}, not "
                                 f"{(row.get('group') or '').strip()!r} (groups cannot be changed here)")
        new, problems = _parse_row(row)
        result.errors += [f"row {number}: {topic_id}: {p}" for p in problems]
        if problems:
            continue
        # Compared with the topic as its own exported row reads: cell clean-up alone is no edit.
        old, _ = _parse_row(exported)
        diff = {k: v for k, v in new.items() if v != old[k]}
        if diff:
            changes.setdefault(path, {})[topic_id] = diff
    for topic_id in sorted(set(current) - set(seen)):
        result.errors.append(f"topic {topic_id} has no row (topics are removed in faq/, not here)")
    if result.errors or not changes:
        return result

    texts = {path: edit_group_text(path.read_text(encoding="utf-8"), edits) for path, edits in changes.items()}
    problems = _check_candidate(faq_dir, texts, changes, heldout, nlu_dir)
    if problems:
        result.errors = [_row_of(p, seen) for p in problems]
        return result
    result.changed = {path: list(edits) for path, edits in changes.items()}
    if not dry_run:
        for path, text in texts.items():
            tmp = path.with_name(f".{path.name}.import")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
    return result


def _check_candidate(faq_dir: Path, texts: dict[Path, str], changes: dict[Path, dict[str, dict[str, Any]]],
                     heldout: Iterable[Path], nlu_dir: Optional[Path]) -> list[str]:
    """The checker's verdict on faq/ as it would be, plus proof that each edit reads back as meant."""
    from bot.faq.checker import check

    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / "faq"
        candidate.mkdir()
        (candidate / SPEC_FILE).parent.mkdir(parents=True)
        shutil.copy(faq_dir / SPEC_FILE, candidate / SPEC_FILE)
        for path in group_files(faq_dir):
            (candidate / path.name).write_text(texts.get(path) or path.read_text(encoding="utf-8"), encoding="utf-8")
        problems = []
        for path, edits in changes.items():
            written = {str(raw["id"]): _fields(raw) for raw in _raw_topics(candidate / path.name)}
            for topic_id, diff in edits.items():
                for name, value in diff.items():
                    want = {} if name == "facets" and not value else value
                    if written.get(topic_id, {}).get(name) != want:
                        problems.append(f"{path.name}:{topic_id}: {name} would not be written as given")
        kb = load_kb(candidate)
        # Built from the candidate, so never stale; named like data/nlu/faq.yml, which the checker
        # skips when it reads the hand-written NLU files.
        generated = Path(tmp) / "generated" / GENERATED_NAME
        generated.parent.mkdir()
        generated.write_text(compiler.compile_kb(kb), encoding="utf-8")
        return problems + check(kb, candidate, generated, heldout=list(heldout), nlu_dir=nlu_dir)
