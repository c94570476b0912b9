"""A report as a plain-text table for the terminal (Chinese characters count two columns)."""
from __future__ import annotations

import unicodedata
from typing import Any

from bot.reports.tables import Table

MAX_CELL = 36  # display columns; longer cells are cut with "…" on screen (the CSV keeps them whole)


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cut(text: str, limit: int = MAX_CELL) -> str:
    if width(text) <= limit:
        return text
    out, used = [], 0
    for c in text:
        if used + width(c) > limit - 1:
            break
        out.append(c)
        used += width(c)
    return "".join(out) + "…"


def _cell(value: Any) -> str:
    return cut(" ".join(str(value).split()))


def render(table: Table, title: str = "") -> str:
    headers, rows = table
    cells = [[_cell(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(width(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(isinstance(row[i], (int, float)) for row in rows) and bool(rows) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        padded = [(" " * (w - width(c)) + c) if num else (c + " " * (w - width(c)))
                  for c, w, num in zip(row, widths, numeric, strict=False)]
        return "  ".join(padded).rstrip()

    out = [title] if title else []
    out += [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells[1:]] or ["(nothing in this period)"]
    return "\n".join(out)
