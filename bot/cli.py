"""`python -m bot …`: the project's own commands (FAQ, evaluation, database, serving, benchmark)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.config import ROOT, get_settings

GENERATED = ROOT / "data" / "nlu" / "faq.yml"
HELDOUT = ROOT / "tests" / "heldout"
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


def _latest_model() -> Path:
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit("no trained model in models/; run `make train`")
    return models[-1]


def _eval(args: argparse.Namespace) -> int:
    from bot.evaluate import evaluate
    from bot.faq.kb import load_kb

    settings = get_settings()
    report = evaluate(args.model or _latest_model(), args.files or [HELDOUT], load_kb(settings.faq_dir),
                      settings.faq_threshold)
    print(report.render())
    if args.misses:
        for expect, got, text in report.misses:
            print(f"  MISS {expect} -> {got}: {text}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from bot import serve

    return serve.main(args.model or _latest_model(), args.port, args.actions_port)


def _bench(args: argparse.Namespace) -> int:
    from bot import bench

    print(bench.run(args.model or _latest_model(), messages=args.messages, concurrency=args.concurrency,
                    flow=args.flow))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    faq = sub.add_parser("faq", help="the knowledge base in faq/").add_subparsers(dest="faq_command", required=True)
    faq.add_parser("build", help="compile faq/ into data/nlu/faq.yml").set_defaults(func=_faq_build)
    faq.add_parser("check", help="validate faq/ (exit 1 on any problem)").set_defaults(func=_faq_check)
    ev = sub.add_parser("eval", help="accuracy of the trained model on labelled [{text, expect}] files")
    ev.add_argument("files", nargs="*", type=Path, help="YAML files or folders (default: tests/heldout)")
    ev.add_argument("--model", type=Path, help="model archive (default: newest in models/)")
    ev.add_argument("--misses", action="store_true", help="list every miss")
    ev.set_defaults(func=_eval)
    from bot.storage.cli import register as register_storage

    register_storage(sub)
    sv = sub.add_parser("serve", help="run the action server and the Rasa server (Ctrl-C stops both)")
    sv.add_argument("--model", type=Path, help="model archive (default: newest in models/)")
    sv.add_argument("--port", type=int, default=5005)
    sv.add_argument("--actions-port", type=int, default=5055)
    sv.set_defaults(func=_serve)
    bn = sub.add_parser("bench", help="latency/throughput/memory through the REST channel (prints figures)")
    bn.add_argument("--model", type=Path, help="model archive (default: newest in models/)")
    bn.add_argument("--messages", type=int, default=400)
    bn.add_argument("--concurrency", type=int, default=4)
    bn.add_argument("--flow", choices=("faq", "orders"), default="faq",
                    help="faq: FAQ questions; orders: complete order lookups (form, actions, database)")
    bn.set_defaults(func=_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
