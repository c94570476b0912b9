"""`python -m bot …`: the project's own commands (FAQ, evaluation, database, serving, benchmark)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.config import ROOT, get_settings

GENERATED = ROOT / "data" / "nlu" / "faq.yml"
HELDOUT = ROOT / "tests" / "heldout"
CONVERSATIONS = ROOT / "tests" / "conversations"
NLU_DIR = ROOT / "data" / "nlu"


def _faq_build(args: argparse.Namespace) -> int:
    from bot.faq import compiler
    from bot.faq.kb import load_kb

    kb = load_kb(get_settings().faq_dir)
    changed = compiler.write(kb, GENERATED)
    print(f"{GENERATED.relative_to(ROOT)}: {len(kb.topics)} topics, "
          f"{sum(len(t.examples) for t in kb.topics)} examples ({'written' if changed else 'unchanged'})")
    return 0


def _faq_check(args: argparse.Namespace) -> int:
    from bot.faq.checker import check
    from bot.faq.kb import load_kb

    settings = get_settings()
    kb = load_kb(settings.faq_dir)
    problems = check(kb, settings.faq_dir, GENERATED, heldout=[HELDOUT], nlu_dir=NLU_DIR)
    for p in problems:
        print(p)
    print(f"{len(kb.topics)} topics, {len(problems)} problems")
    return 1 if problems else 0


def _faq_export(args: argparse.Namespace) -> int:
    from bot.faq.spreadsheet import export_csv

    count = export_csv(args.faq_dir or get_settings().faq_dir, args.file)
    print(f"{args.file}: {count} topics (UTF-8 with BOM; open in Excel, save as “CSV UTF-8”)")
    return 0


def _faq_import(args: argparse.Namespace) -> int:
    from bot.faq.spreadsheet import import_csv

    result = import_csv(args.file, args.faq_dir or get_settings().faq_dir, heldout=[HELDOUT], nlu_dir=NLU_DIR,
                        dry_run=args.dry_run)
    for error in result.errors:
        print(error)
    if not result.ok:
        print(f"{len(result.errors)} problems; nothing was changed")
        return 1
    for path, topics in result.changed.items():
        print(f"{path.name}: {', '.join(topics)}")
    done = "would change" if args.dry_run else "changed"
    print(f"{sum(map(len, result.changed.values()))} topics {done}"
          + ("; next: `python -m bot faq build` and `make train`" if result.changed and not args.dry_run else ""))
    return 0


def _latest_model() -> Path:
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit("no trained model in models/; run `make train`")
    return models[-1]


def _eval(args: argparse.Namespace) -> int:
    if args.conversations is not None:
        return _eval_conversations(args)
    from bot.evaluate import evaluate
    from bot.faq.kb import load_kb

    settings = get_settings()
    report = evaluate(args.model or _latest_model(), args.files or [HELDOUT], load_kb(settings.faq_dir),
                      settings.faq_threshold, parses_cache=args.parses)
    print(report.render())
    if args.reliability and report.readings:
        from bot.calibration import plot_reliability

        names = ", ".join(str(f) for f in args.files) if args.files else "tests/heldout"
        path = plot_reliability(report.reliability(), args.reliability, threshold=report.threshold,
                                title=f"FAQ confidence reliability: {names} ({len(report.readings)} readings)")
        print(f"reliability diagram: {path}")
    if args.misses:
        for expect, got, text in report.misses:
            print(f"  MISS {expect} -> {got}: {text}")
    return 0


def _eval_conversations(args: argparse.Namespace) -> int:
    from bot import conversations

    corpus = conversations.load_corpus(args.conversations)
    if args.url:
        results = conversations.run(corpus, args.url.rstrip("/"))
    else:
        from bot import shapes

        with shapes.started("embedded", model=args.model or _latest_model(), env=conversations.SERVER_ENV) as running:
            results = conversations.run(corpus, running.base)
    print(conversations.report(results, show_heldout_failures=args.show_heldout))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from bot import serve

    if args.check:
        problem = serve.preflight(args.replicas)
        print(problem or "settings OK", file=sys.stderr if problem else sys.stdout)
        return 2 if problem else 0
    return serve.main(args.model or _latest_model(), args.port, args.actions_port, args.replicas)


def _rasa_server(args: argparse.Namespace) -> int:
    from bot import serve

    return serve.exec_rasa(args.model or _latest_model(), args.port)


def _bench(args: argparse.Namespace) -> int:
    from bot import bench

    print(bench.run(args.model or _latest_model(), messages=args.messages, concurrency=args.concurrency,
                    flow=args.flow))
    return 0


def _loadtest(args: argparse.Namespace) -> int:
    from bot import loadtest

    shapes = ["embedded", "production"] if args.shape == "both" else [args.shape]
    print(loadtest.run(shapes, model=args.model or _latest_model(), users=args.users, seconds=args.seconds,
                       max_turns=args.max_turns, replicas=args.replicas), flush=True)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    faq = sub.add_parser("faq", help="the knowledge base in faq/").add_subparsers(dest="faq_command", required=True)
    faq.add_parser("build", help="compile faq/ into data/nlu/faq.yml").set_defaults(func=_faq_build)
    faq.add_parser("check", help="validate faq/ (exit 1 on any problem)").set_defaults(func=_faq_check)
    fx = faq.add_parser("export", help="write faq/ as a spreadsheet (CSV for Excel)")
    fi = faq.add_parser("import", help="write an edited spreadsheet back into faq/ (all rows or nothing)")
    for cmd, func in ((fx, _faq_export), (fi, _faq_import)):
        cmd.add_argument("file", type=Path, help="the CSV file")
        cmd.add_argument("--faq-dir", type=Path, help="knowledge base folder (default: FAQ_DIR or faq/)")
        cmd.set_defaults(func=func)
    fi.add_argument("--dry-run", action="store_true", help="check and list the changes, write nothing")
    ev = sub.add_parser("eval", help="accuracy of the trained model on labelled [{text, expect}] files")
    ev.add_argument("files", nargs="*", type=Path, help="YAML files or folders (default: tests/heldout)")
    ev.add_argument("--model", type=Path, help="model archive (default: newest in models/)")
    ev.add_argument("--misses", action="store_true", help="list every miss")
    ev.add_argument("--reliability", default=str(ROOT / "var" / "reliability.png"), metavar="PNG",
                    help="write the reliability diagram here (default: var/reliability.png; '' for none)")
    ev.add_argument("--parses", type=Path, metavar="JSON",
                    help="cache parses in this file and reuse them while the model is unchanged")
    ev.add_argument("--conversations", nargs="?", type=Path, const=CONVERSATIONS, default=None, metavar="DIR",
                    help="play the conversation corpus through REST instead (default: tests/conversations)")
    ev.add_argument("--url", help="with --conversations: a running server to play against (needs --enable-api)")
    ev.add_argument("--show-heldout", action="store_true", help="with --conversations: show held-out failures too")
    ev.set_defaults(func=_eval)
    from bot.channels.wechat_cli import register as register_wechat
    from bot.storage.cli import register as register_storage

    register_storage(sub)
    register_wechat(sub)
    from bot.reports.cli import register as register_reports

    register_reports(sub)
    sv = sub.add_parser("serve", help="run the action server and the Rasa server (Ctrl-C stops both)")
    sv.add_argument("--model", type=Path, help="model archive (default: newest in models/)")
    sv.add_argument("--port", type=int, default=5005)
    sv.add_argument("--actions-port", type=int, default=5055)
    sv.add_argument("--replicas", type=int, default=1,
                    help="Rasa replicas behind nginx on --port (needs REDIS_URL, and RASA_AUTH_TOKEN unless "
                         "RASA_ENABLE_API=false)")
    sv.add_argument("--check", action="store_true", help="only check the settings (exit 2 with the reason)")
    sv.set_defaults(func=_serve)
    rs = sub.add_parser("rasa-server", help="one Rasa server as the container runs it (exec; refuses to start "
                                            "with the HTTP API on and no RASA_AUTH_TOKEN)")
    rs.add_argument("--model", type=Path, help="model archive (default: newest in models/)")
    rs.add_argument("--port", type=int, default=5005)
    rs.set_defaults(func=_rasa_server)
    bn = sub.add_parser("bench", help="latency/throughput/memory through the REST channel (prints figures)")
    bn.add_argument("--model", type=Path, help="model archive (default: newest in models/)")
    bn.add_argument("--messages", type=int, default=400)
    bn.add_argument("--concurrency", type=int, default=4)
    bn.add_argument("--flow", choices=("faq", "orders"), default="faq",
                    help="faq: FAQ questions; orders: complete order lookups (form, actions, database)")
    bn.set_defaults(func=_bench)
    lt = sub.add_parser("loadtest", help="simulated users against the embedded and production shapes (prints figures)")
    lt.add_argument("--model", type=Path, help="model archive (default: newest in models/)")
    lt.add_argument("--shape", choices=("embedded", "production", "both"), default="both")
    lt.add_argument("--users", type=int, default=50)
    lt.add_argument("--seconds", type=float, default=20, help="per phase (FAQ only, then mixed)")
    lt.add_argument("--max-turns", type=int, default=6000, help="per phase")
    lt.add_argument("--replicas", type=int, default=2, help="Rasa replicas in the production shape")
    lt.set_defaults(func=_loadtest)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
