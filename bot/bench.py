"""`make bench`: latency, throughput and memory of FAQ turns through the REST channel.

A benchmark prints figures; it passes or fails nothing. It starts its own servers on loopback
ports, sends a bounded number of messages, and stops everything it started.
"""
from __future__ import annotations

import random
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bot import serve
from bot.config import ROOT
from bot.faq.kb import load_kb


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident set size of a process in MiB from /proc: VmRSS now, VmHWM at its peak."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _turn(url: str, text: str) -> tuple[float, bool]:
    start = time.perf_counter()
    try:
        r = requests.post(url, json={"sender": f"bench-{uuid.uuid4().hex[:10]}", "message": text}, timeout=30)
        ok = r.status_code == 200 and bool(r.json())
    except (requests.RequestException, ValueError):
        ok = False
    return (time.perf_counter() - start) * 1000, ok


def _demo_database(directory: Path) -> tuple[str, list[str]]:
    """A SQLite app database with the demo orders, and one owner's lookup message per order."""
    import csv

    from bot.storage.orders_csv import DEMO_CSV, create_demo_database

    url = f"sqlite:///{directory / 'bench.db'}"
    create_demo_database(url)
    with DEMO_CSV.open(encoding="utf-8-sig") as f:
        lookups = [f"订单号 {row['order_no']} 手机尾号{row['phone'][-4:]}" for row in csv.DictReader(f)]
    return url, lookups


def run(model: Path, messages: int = 400, concurrency: int = 4, seed: int = 7, flow: str = "faq") -> str:
    """`flow` is "faq" (FAQ questions) or "orders" (complete order lookups: form, two actions, database)."""
    rasa_port, actions_port = serve.free_port(), serve.free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {}
        if flow == "orders":
            env["DATABASE_URL"], texts = _demo_database(Path(tmp))
        else:
            texts = [e for t in load_kb(ROOT / "faq").topics for e in t.examples]
        random.Random(seed).shuffle(texts)
        texts = (texts * (messages // len(texts) + 1))[:messages]
        env["RASA_ENDPOINTS"] = str(serve.endpoints_file(Path(tmp), actions_port))
        procs = serve.start(model, rasa_port, actions_port, env=env, log_dir=Path(tmp) / "logs")
        try:
            started = time.perf_counter()
            if not serve.wait_http(f"http://127.0.0.1:{rasa_port}/status", 300):
                raise SystemExit("Rasa server did not start")
            startup = time.perf_counter() - started
            url = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"
            for text in texts[:20]:  # warm-up: lazy loading in both servers
                _turn(url, text)
            sequential = [_turn(url, t) for t in texts[: messages // 2]]
            t0 = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                concurrent = list(pool.map(lambda t: _turn(url, t), texts[messages // 2:]))
            wall = time.perf_counter() - t0
            rss = {name: (rss_mb(p.pid), rss_mb(p.pid, "VmHWM"))
                   for name, p in zip(("actions", "rasa"), procs, strict=False)}
        finally:
            serve.stop(procs)
    seq = [ms for ms, _ in sequential]
    train = (ROOT / "models" / "train_seconds.txt")
    lines = [
        f"model: {model}",
        f"server start-up (model load): {startup:.1f} s",
        f"sequential {flow} turns: {len(seq)}  p50 {percentile(seq, 50):.1f} ms  p95 {percentile(seq, 95):.1f} ms"
        f"  p99 {percentile(seq, 99):.1f} ms  mean {statistics.mean(seq):.1f} ms",
        f"sequential throughput: {len(seq) / (sum(seq) / 1000):.1f} turns/s",
        f"concurrent ({concurrency} clients): {len(concurrent)} turns in {wall:.2f} s = "
        f"{len(concurrent) / wall:.1f} turns/s  p50 {percentile([ms for ms, _ in concurrent], 50):.1f} ms"
        f"  p99 {percentile([ms for ms, _ in concurrent], 99):.1f} ms",
        f"errors: {sum(not ok for _, ok in sequential + concurrent)}",
        f"RSS after the run (peak): rasa server {rss['rasa'][0]:.0f} MiB ({rss['rasa'][1]:.0f} MiB), "
        f"action server {rss['actions'][0]:.0f} MiB ({rss['actions'][1]:.0f} MiB)",
        f"last training: {train.read_text().strip() if train.exists() else 'unknown (train with make train)'}",
    ]
    return "\n".join(lines)
