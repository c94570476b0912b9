"""`python -m bot report hot|missed|quality|daily|all [--since --until --out DIR]`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.reports.period import DEFAULT_DAYS

KINDS = ("hot", "missed", "quality", "daily")
TITLES = {"hot": "Hot questions: FAQ topics answered, per channel",
          "missed": "Missed questions: fallback, not sure (choices offered), out of scope; similar ones grouped",
          "quality": "Answer quality: votes (answer_feedback) and conversations that went on to a person",
          "daily": "Daily volume: user turns per day (China time) and channel"}
CHARTS = ("hot", "daily")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `report` command to the main CLI's subparsers."""
    p = subparsers.add_parser("report", help="hot/missed questions, answer quality, daily volume (tracker store)")
    p.add_argument("kind", choices=(*KINDS, "all"))
    p.add_argument("--since",
                   help=f"first day, YYYY-MM-DD, China time (default: the last {DEFAULT_DAYS} days, today included)")
    p.add_argument("--until", help="last day, included (default: today, China time)")
    p.add_argument("--out", type=Path, metavar="DIR", help="also write <report>.csv (UTF-8 BOM) and charts here")
    p.add_argument("--limit", type=int, default=30, help="rows shown on screen (files get all)")
    p.add_argument("--export-yaml", type=Path, metavar="FILE",
                   help="missed: write the groups as faq/-style examples with a suggested topic, for review")
    p.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from bot.reports.build import build
    from bot.reports.period import period_from

    try:
        period = period_from(args.since, args.until)
    except ValueError as e:
        print(f"report: {e}", file=sys.stderr)
        return 2
    if args.export_yaml and args.kind not in ("missed", "all"):
        print("report: --export-yaml goes with `report missed`", file=sys.stderr)
        return 2
    reports = build(period)
    print(f"{period}: {reports.turns} user turns")
    for kind in (KINDS if args.kind == "all" else (args.kind,)):
        print()
        print(write(reports, kind, args.out, args.limit))
    if args.kind in ("quality", "all") and not reports.votes_available:
        print("(no answer_feedback table in the app database yet: run `python -m bot db init`)")
    if args.export_yaml:
        from bot.reports.files import export_yaml

        path = export_yaml(reports.missed, period, args.export_yaml)
        print(f"\n{path}: {len(reports.missed)} groups for review (then `python -m bot faq check`)")
    return 0


def write(reports, kind: str, out: Path | None, limit: int) -> str:
    """The report's table as text; with `out`, its CSV (and chart) written there too."""
    from bot.reports import chart
    from bot.reports.files import write_csv
    from bot.reports.render import render
    from bot.reports.tables import TABLES

    rows = getattr(reports, kind)
    headers, body = TABLES[kind][1](rows)
    text = render((headers, body[:limit]), TITLES[kind])
    if len(body) > limit:
        text += f"\n… {len(body) - limit} more rows (--limit, or --out for all)"
    if out:
        written = [write_csv((headers, body), out / f"{kind}.csv")]
        if kind in CHARTS:
            written.append(getattr(chart, f"{kind}_chart")(rows, out / f"{kind}.png"))
        text += "\n" + "\n".join(f"wrote {p}" for p in written)
    return text
