"""`make loadtest`: simulated users running mixed conversations against both deployment shapes.

The production shape is driven through nginx (the shipped deploy/nginx.conf, bot.nginx) like real
traffic; since every simulated user comes from 127.0.0.1, its per-address limit is raised there.

A benchmark prints figures; it passes or fails nothing. Each shape is started on loopback with fresh
databases (bot.shapes), warmed up, then driven by `users` concurrent simulated users for at most
`seconds` and `max_turns` turns per phase: first FAQ questions only, then a mix of FAQ questions,
order lookups with the identity check, and ticket creation. It prints turns per second, latency
percentiles and errors per phase, and then audits the database: every ticket a user was told about
exists exactly once, and no other ticket was created.
"""
from __future__ import annotations

import asyncio
import csv
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import aiohttp

from bot.bench import percentile
from bot.config import ROOT

TICKET_NO = re.compile(r"BA\d{8}-\d{4,}")
MIX = (("faq", 0.7), ("lookup", 0.2), ("ticket", 0.1))


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    latencies_ms: List[float] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    wall_s: float = 0.0
    by_kind: Dict[str, int] = field(default_factory=dict)

    def render(self) -> str:
        lat = self.latencies_ms or [float("nan")]
        turns = len(self.latencies_ms)
        return (f"  {self.name:<9} {turns:>5} turns in {self.wall_s:5.1f} s"
                f" = {turns / max(self.wall_s, 1e-9):6.1f} turns/s"
                f"  p50 {percentile(lat, 50):6.1f} ms  p95 {percentile(lat, 95):6.1f} ms"
                f"  p99 {percentile(lat, 99):6.1f} ms  errors {len(self.errors)}"
                f"  conversations {dict(sorted(self.by_kind.items()))}")


@dataclass
class Material:
    """What the simulated users say: FAQ questions and the demo orders' owners' lookups."""

    questions: List[str]
    orders: List[tuple]  # (order_no, phone tail, status label)

    @classmethod
    def load(cls) -> Material:
        from bot.faq.kb import load_kb
        from bot.storage.models import STATUS_LABELS
        from bot.storage.orders_csv import DEMO_CSV

        questions = [e for t in load_kb(ROOT / "faq").topics for e in t.examples]
        with DEMO_CSV.open(encoding="utf-8-sig") as f:
            orders = [(r["order_no"], r["phone"][-4:], STATUS_LABELS[r["status"]]) for r in csv.DictReader(f)]
        return cls(questions, orders)


def conversation(kind: str, rng: random.Random, material: Material) -> List[tuple]:
    """A scripted conversation: (message, check) pairs; check is a word the reply must contain."""
    if kind == "faq":
        return [(rng.choice(material.questions), None) for _ in range(rng.randint(1, 3))]
    if kind == "lookup":
        order_no, tail, label = rng.choice(material.orders)
        return [(f"帮我查下订单 {order_no}", None), (f"手机尾号{tail}", label)]
    phone = f"1380000{rng.randint(0, 9999):04d}"
    return [("帮我提个工单", "描述"), ("管局审核超过二十个工作日了还没有结果，麻烦人工看看", "联系方式"),
            (phone, "确认"), ("确认", "工单已提交")]


class Users:
    """The simulated users of one run; remembers every ticket number they were told."""

    def __init__(self, url: str, material: Material, run_id: str, seed: int = 7):
        self.url = url.rstrip("/") + "/webhooks/rest/webhook"
        self.material = material
        self.run_id = run_id
        self.rng = random.Random(seed)
        self.tickets_told: Dict[str, str] = {}  # ticket_no -> sender
        self._count = 0

    def sender(self, user: int) -> str:
        self._count += 1
        return f"load-{self.run_id}-{user}-{self._count}"

    async def turn(self, session: aiohttp.ClientSession, sender: str, text: str, phase: Phase) -> Optional[str]:
        started = time.perf_counter()
        try:
            async with session.post(self.url, json={"sender": sender, "message": text}) as response:
                body = await response.json(content_type=None) if response.status == 200 else None
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            phase.errors.append(f"{type(exc).__name__}")
            return None
        phase.latencies_ms.append((time.perf_counter() - started) * 1000)
        if status != 200 or not body:
            phase.errors.append(f"HTTP {status}" if status != 200 else "no reply")
            return None
        return "\n".join(m.get("text", "") for m in body if isinstance(m, dict))

    async def user(self, session: aiohttp.ClientSession, user: int, phase: Phase, mix, deadline: float,
                   budget: List[int]) -> None:
        rng = random.Random(self.rng.random())
        kinds, weights = zip(*mix, strict=True)
        while time.monotonic() < deadline and budget[0] > 0:
            kind = rng.choices(kinds, weights)[0]
            sender = self.sender(user)
            phase.by_kind[kind] = phase.by_kind.get(kind, 0) + 1
            for text, expect in conversation(kind, rng, self.material):
                budget[0] -= 1
                reply = await self.turn(session, sender, text, phase)
                if reply is None:
                    break
                if expect and expect not in reply:
                    phase.errors.append(f"{kind}: expected {expect!r}")
                    break
                for ticket_no in TICKET_NO.findall(reply):
                    self.tickets_told[ticket_no] = sender

    async def run(self, name: str, users: int, seconds: float, max_turns: int, mix) -> Phase:
        phase = Phase(name)
        budget = [max_turns]
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=users)) as session:
            started = time.perf_counter()
            deadline = time.monotonic() + seconds
            await asyncio.gather(*(self.user(session, u, phase, mix, deadline, budget) for u in range(users)))
            phase.wall_s = time.perf_counter() - started
        return phase


def audit(database_url: str, run_id: str, told: Dict[str, str]) -> str:
    """Every ticket users were told about exists exactly once for its sender; nothing else exists."""
    from sqlalchemy import select

    from bot.storage.db import make_engine
    from bot.storage.models import Ticket

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Ticket.ticket_no, Ticket.sender_id)
                                .where(Ticket.sender_id.like(f"load-{run_id}-%"))).all()
    finally:
        engine.dispose()
    stored: Dict[str, List[str]] = {}
    for ticket_no, sender in rows:
        stored.setdefault(ticket_no, []).append(sender)
    missing = [t for t in told if t not in stored]
    duplicated = [t for t, senders in stored.items() if len(senders) > 1]
    unexpected = [t for t in stored if t not in told]
    wrong_owner = [t for t in told if t in stored and stored[t] != [told[t]]]
    per_sender: Dict[str, int] = {}
    for _, sender in rows:
        per_sender[sender] = per_sender.get(sender, 0) + 1
    twice = [s for s, n in per_sender.items() if n > 1]
    ok = not (missing or duplicated or unexpected or wrong_owner or twice)
    return (f"  tickets: told {len(told)}, stored {len(rows)}; missing {len(missing)}, duplicated {len(duplicated)}, "
            f"not told {len(unexpected)}, wrong owner {len(wrong_owner)}, senders with two {len(twice)}"
            f" -> {'OK' if ok else 'MISMATCH'}")


async def _drive(base: str, material: Material, users: int, seconds: float, max_turns: int) -> tuple:
    run_id = uuid.uuid4().hex[:8]
    load = Users(base, material, run_id)
    await load.run("warm-up", min(users, 4), 5, 40, (("faq", 1.0),))
    faq = await load.run("faq", users, seconds, max_turns, (("faq", 1.0),))
    mixed = await load.run("mixed", users, seconds, max_turns, MIX)
    return run_id, load.tickets_told, [faq, mixed]


def run(shapes: List[str], model: Path, users: int = 50, seconds: float = 20, max_turns: int = 6000,
        replicas: int = 2) -> str:
    """Drive each shape in turn and return the report."""
    from bot import shapes as shape_module
    from bot.bench import rss_mb

    material = Material.load()
    lines = [f"load test: {users} concurrent users, at most {seconds:.0f} s and {max_turns} turns per phase "
             f"(FAQ only, then {', '.join(f'{k} {w:.0%}' for k, w in MIX)})"]
    for kind in shapes:
        with shape_module.started(kind, replicas=replicas, model=model) as running:
            run_id, told, phases = asyncio.run(_drive(running.base, material, users, seconds, max_turns))
            names = ["actions"] + [f"rasa-{i + 1}" for i in range(len(running.replicas))]
            names += ["nginx"] if kind == "production" else []
            rss = ", ".join(f"{name} {rss_mb(p.pid):.0f} MiB"
                            for name, p in zip(names, running.processes, strict=False))
            lines.append(f"{kind} ({len(running.replicas)} Rasa server{'s' if len(running.replicas) > 1 else ''}"
                         f"{' behind nginx' if kind == 'production' else ''}, "
                         f"tracker {running.tracker_url.split(':')[0]}):")
            lines += [p.render() for p in phases]
            errors = [e for p in phases for e in p.errors]
            if errors:
                counts: Dict[str, int] = {}
                for e in errors:
                    counts[e] = counts.get(e, 0) + 1
                lines.append(f"  error kinds: {counts}")
            lines.append(audit(running.database_url, run_id, told))
            lines.append(f"  RSS: {rss}")
    return "\n".join(lines)
