"""Score a trained model on a labelled list `[{text, expect}]`: top-1/top-3, per group, confusions.

`expect` is a topic id or an intent name. Top-1/top-3 score the ranking `bot.ranking` builds (FAQ
topics in place of `faq`); the report also says how often the assistant would answer directly
(calibrated confidence at or above the operating threshold, bot.calibration) and how often those
answers are right, because that is what a user sees, with a reliability table: calibrated
confidence in bins against how often the top FAQ topic is right.
"""
from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from bot import calibration as cal
from bot.faq.kb import KnowledgeBase, load_labelled
from bot.ranking import read

OUT_OF_SCOPE = "out_of_scope"


@dataclass
class Report:
    total: int = 0
    top1: int = 0
    top3: int = 0
    answered: int = 0  # the assistant answered directly (confident)
    answered_right: int = 0
    unsure_right_in_choices: int = 0  # not sure, but the right topic was among the offered choices
    groups: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    confusions: Counter = field(default_factory=Counter)
    oos: Counter = field(default_factory=Counter)  # tp, fp, fn for out_of_scope
    misses: list[tuple[str, str, str]] = field(default_factory=list)
    intents: list[int] = field(default_factory=lambda: [0, 0, 0])  # n, model right, BM25 right
    readings: list[tuple[float, bool]] = field(default_factory=list)  # FAQ readings: calibrated confidence, top right
    faq_questions: list[int] = field(default_factory=lambda: [0, 0, 0])  # expect a topic: n, answered, answered right
    threshold: float | None = None  # the bar direct FAQ answers had to reach

    @property
    def top1_accuracy(self) -> float:
        return self.top1 / self.total if self.total else 0.0

    @property
    def top3_accuracy(self) -> float:
        return self.top3 / self.total if self.total else 0.0

    def oos_precision_recall(self) -> tuple[float, float]:
        tp, fp, fn = self.oos["tp"], self.oos["fp"], self.oos["fn"]
        return (tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0)

    def add(self, group: str, expect: str, answer: str | None, ranking: tuple[str, ...], text: str,
            confidence: float | None = None, top_faq: str | None = None, is_topic: bool = False) -> None:
        best = ranking[0] if ranking else None
        hit1, hit3 = best == expect, expect in ranking[:3]
        if confidence is not None:
            self.readings.append((confidence, top_faq == expect))
        if is_topic:
            self.faq_questions[0] += 1
            self.faq_questions[1] += answer is not None
            self.faq_questions[2] += answer == expect
        if answer is not None:
            self.answered += 1
            self.answered_right += answer == expect
        else:
            self.unsure_right_in_choices += hit3
        self.total += 1
        self.top1 += hit1
        self.top3 += hit3
        g = self.groups[group]
        g[0] += 1
        g[1] += hit1
        g[2] += hit3
        if not hit1:
            self.confusions[(expect, best or "(nothing)")] += 1
            self.misses.append((expect, best or "(nothing)", text))
        said_oos = best == OUT_OF_SCOPE
        is_oos = expect == OUT_OF_SCOPE
        self.oos["tp" if said_oos and is_oos else "fp" if said_oos else "fn" if is_oos else "tn"] += 1

    def reliability(self) -> list[tuple[float, float, int, float, float]]:
        return cal.reliability([c for c, _ in self.readings], [r for _, r in self.readings])

    def render_calibration(self) -> list[str]:
        if not self.readings:
            return []
        n, answered, right = self.faq_questions
        rows = self.reliability()
        lines = ["", f"FAQ questions (expecting a topic, {n}): "
                     f"answered directly {answered} ({answered / max(n, 1):.1%}), "
                     f"{right / max(answered, 1):.2%} of them right",
                 f"calibrated FAQ confidence (operating threshold {self.threshold:.3f}, fitted on the dev set); "
                 f"{len(self.readings)} FAQ readings, "
                 f"expected calibration error {cal.expected_calibration_error(rows):.3f}:"]
        lines += ["  " + line for line in cal.render_reliability(rows).splitlines()]
        return lines

    def render(self, confusions: int = 25) -> str:
        precision, recall = self.oos_precision_recall()
        lines = [
            f"examples: {self.total}",
            f"top-1 accuracy: {self.top1_accuracy:.2%}",
            f"top-3 accuracy: {self.top3_accuracy:.2%}",
            f"out_of_scope precision: {precision:.2%}  recall: {recall:.2%}",
            f"answered directly: {self.answered}/{self.total}, "
            f"right {self.answered_right / max(self.answered, 1):.2%}; "
            f"not sure: {self.total - self.answered}, right topic among the offered choices "
            f"{self.unsure_right_in_choices / max(self.total - self.answered, 1):.2%}",
            *self.render_calibration(),
            "",
            f"intents (the non-FAQ questions, {self.intents[0]}): "
            f"model {self.intents[1] / max(self.intents[0], 1):.2%}, "
            f"BM25 baseline over the same training data {self.intents[2] / max(self.intents[0], 1):.2%}",
            "",
            f"{'group':<18}{'n':>5}{'top-1':>9}{'top-3':>9}",
        ]
        for name in sorted(self.groups):
            n, h1, h3 = self.groups[name]
            lines.append(f"{name:<18}{n:>5}{h1 / n:>9.1%}{h3 / n:>9.1%}")
        if self.confusions:
            lines += ["", "confusions (expected -> got: count):"]
            lines += [f"  {e} -> {g}: {c}" for (e, g), c in self.confusions.most_common(confusions)]
        return "\n".join(lines)


def group_of(kb: KnowledgeBase, expect: str) -> str:
    topic = kb.get(expect)
    return topic.group if topic else "intents"


def parse_texts(model: Path, texts: list[str], cache: Path | None = None) -> list[dict[str, Any]]:
    """Parse every text with the model; with `cache`, parses are kept in that JSON file and reused
    while the model file is unchanged (size and modification time), so tuning does not reparse."""
    import json

    model = Path(model)
    stat = model.stat()
    key = f"{model.resolve()}:{stat.st_size}:{int(stat.st_mtime)}"
    known: dict[str, Any] = {}
    if cache is not None and Path(cache).exists():
        stored = json.loads(Path(cache).read_text(encoding="utf-8"))
        if stored.get("model") == key:
            known = stored.get("parses") or {}
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    if missing:
        known.update(zip(missing, asyncio.run(_parse_all(model, missing)), strict=True))
        if cache is not None:
            Path(cache).parent.mkdir(parents=True, exist_ok=True)
            Path(cache).write_text(json.dumps({"model": key, "parses": known}, ensure_ascii=False, default=float),
                                   encoding="utf-8")
    return [known[t] for t in texts]


async def _parse_all(model: Path, texts: Iterable[str]) -> list[dict[str, Any]]:
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)  # otherwise every parse is logged to stdout

    agent = Agent.load(str(model))
    return [await agent.parse_message(t) for t in texts]


def evaluate(model: Path, files: Iterable[Path], kb: KnowledgeBase, threshold: float | None = None,
             parses_cache: Path | None = None) -> Report:
    """`threshold` as in bot.ranking.read (the FAQ action passes FAQ_THRESHOLD)."""
    items = load_labelled(files)
    parses = parse_texts(model, [i["text"] for i in items], parses_cache)
    calibration = cal.stored()
    report = Report(threshold=calibration.threshold if threshold is None else max(threshold, calibration.threshold))
    for item, parse in zip(items, parses, strict=True):
        reading = read(parse, threshold, calibration)
        report.add(group_of(kb, item["expect"]), item["expect"], reading.answer, reading.ranking, item["text"],
                   reading.confidence, reading.faq[0][0] if reading.faq else None, kb.get(item["expect"]) is not None)
    intent_items = [(i, p) for i, p in zip(items, parses, strict=True) if kb.get(i["expect"]) is None]
    if intent_items:
        from bot import bm25

        baseline = bm25.classify(training_examples(), [i["text"] for i, _ in intent_items])
        report.intents = [len(intent_items),
                          sum((p.get("intent") or {}).get("name") == i["expect"] for i, p in intent_items),
                          sum(b == i["expect"] for (i, _), b in zip(intent_items, baseline, strict=True))]
    return report


def training_examples() -> list[tuple[str, str]]:
    """(text, intent) for every NLU training example, FAQ questions labelled `faq`."""
    import re

    import yaml

    from bot.config import ROOT

    pairs = []
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if "intent" not in block:
                continue
            label = block["intent"].split("/", 1)[0]
            for line in str(block.get("examples") or "").splitlines():
                text = re.sub(r"^\s*-\s*", "", line).strip()
                if text:
                    pairs.append((text, label))
    return pairs
