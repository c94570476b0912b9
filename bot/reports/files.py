"""Report files: CSV tables (UTF-8 with a BOM, so Excel opens the Chinese right) and the YAML export
of missed questions for the knowledge base's owners."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import yaml

from bot.reports.period import Period
from bot.reports.tables import Table

EXPORT_HEADER = """\
# Missed questions, {period}: FOR REVIEW, not training data.
# Each entry groups similar questions the assistant did not answer (fallback, "not sure" or out of
# scope), under the topic its FAQ ranking put first ("topic" may be wrong; "count" is how often).
# To teach the assistant: move the examples that really ask that topic into its `examples` in
# faq/<group>.yml (or write a new topic), then run `python -m bot faq check`, which guards what goes
# into faq/ (near-identical examples under two topics, held-out questions leaking in), and
# `python -m bot faq build`. Phone numbers, e-mail addresses and order numbers are masked.
"""


def write_csv(table: Table, path: Path) -> Path:
    headers, rows = table
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def one_line(text: str) -> str:
    """An example as faq/ takes it: one line, no `[x](y)` that Rasa would read as an entity."""
    return " ".join(text.split()).replace("](", "] (").replace("]{", "] {")


def export_entries(groups: Sequence) -> list[dict]:
    """`[{topic, count, examples}]`, in the shape of a faq/ topic's `examples` (topic None: unsure)."""
    entries = []
    for g in groups:
        examples = list(dict.fromkeys(e for e in (one_line(x) for x in g.examples) if e))
        if examples:
            entries.append({"topic": g.suggested, "count": g.count, "examples": examples})
    return entries


def export_yaml(groups: Sequence, period: Period, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump(export_entries(groups), allow_unicode=True, sort_keys=False, width=1000)
    path.write_text(EXPORT_HEADER.format(period=period) + body, encoding="utf-8")
    return path
