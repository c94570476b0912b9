"""Guards the knowledge base: every topic present, answers state their facts, examples distinct.

Returns a list of problems (empty means good) so the CLI and the tests share one judgement.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Iterable

import yaml

from bot.faq import compiler
from bot.faq.kb import KnowledgeBase, load_labelled, load_spec
from bot.nlu.normalize import normalize

MIN_EXAMPLES = 12
NEAR_IDENTICAL = 0.9  # character-bigram Jaccard similarity at or above which two texts are one
_PUNCT = re.compile(r"[\s\W_]+")
_ENTITY_SYNTAX = re.compile(r"\]\s*[({]")  # Rasa would read `[x](y)` as an entity annotation


def canonical(text: str) -> str:
    """What two examples are compared on: normalized, lower-case, punctuation-free."""
    return _PUNCT.sub("", normalize(text).lower())


def _bigrams(text: str) -> frozenset[str]:
    return frozenset(text[i : i + 2] for i in range(len(text) - 1)) or frozenset([text])


def near_pairs(
    items: list[tuple[str, str]], threshold: float = NEAR_IDENTICAL
) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Pairs of (label, text) whose texts are identical or near-identical after `canonical`.

    Jaccard >= t needs the smaller bigram set to be >= t of the larger, so sorting by size and
    comparing only within that window keeps this far below n² on real data.
    """
    keyed = sorted(((len(b), b, item) for item in items for b in [_bigrams(canonical(item[1]))]), key=lambda k: k[0])
    pairs = []
    for i, (size_i, grams_i, item_i) in enumerate(keyed):
        for size_j, grams_j, item_j in keyed[i + 1 :]:
            if size_i < threshold * size_j:
                break
            inter = len(grams_i & grams_j)
            if inter and inter / (size_i + size_j - inter) >= threshold:
                pairs.append((item_i, item_j))
    return pairs


def _rasa_examples(nlu_dir: Path, skip: str) -> list[tuple[str, str]]:
    """(intent, text) from hand-written Rasa NLU files (the generated FAQ file is skipped)."""
    out = []
    for path in sorted(Path(nlu_dir).glob("*.yml")):
        if path.name == skip:
            continue
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if "intent" in block:
                for line in str(block.get("examples", "")).splitlines():
                    line = line.strip()
                    if line.startswith("- "):
                        out.append((block["intent"], line[2:]))
    return out


def check(
    kb: KnowledgeBase,
    faq_dir: Path,
    generated: Path,
    heldout: Iterable[Path] = (),
    nlu_dir: Path | None = None,
) -> list[str]:
    problems: list[str] = []
    spec = {t["id"]: t for t in load_spec(faq_dir)}
    seen: dict[str, str] = {}
    for group in kb.groups:
        for topic in group.topics:
            where = f"{group.path.name}:{topic.id}"
            if topic.id in seen:
                problems.append(f"{where}: duplicate id (also in {seen[topic.id]})")
            seen[topic.id] = group.path.name
            if topic.id not in spec:
                problems.append(f"{where}: unknown topic id (not in the spec)")
                continue
            want = spec[topic.id]
            if topic.group != want["group"]:
                problems.append(f"{where}: group {topic.group!r}, spec says {want['group']!r}")
            for needle in want.get("must_mention") or []:
                if str(needle) not in topic.answer:
                    problems.append(f"{where}: answer lacks must_mention {needle!r}")
            if len(set(topic.examples)) < MIN_EXAMPLES:
                problems.append(f"{where}: {len(set(topic.examples))} distinct examples, need {MIN_EXAMPLES}")
            for example in topic.examples:
                if _ENTITY_SYNTAX.search(example) or "\n" in example:
                    problems.append(f"{where}: example {example!r} would be misread by Rasa")
            for rid in topic.related:
                if rid not in spec or rid == topic.id:
                    problems.append(f"{where}: related {rid!r} is not another known topic")
            for name in ("question", "source", "reviewed"):
                if not getattr(topic, name):
                    problems.append(f"{where}: missing {name}")
    for missing in sorted(set(spec) - set(seen)):
        problems.append(f"{missing}: topic missing from faq/")

    training = [(t.intent, e) for t in kb.topics for e in t.examples]
    if nlu_dir is not None:
        training += _rasa_examples(nlu_dir, skip=Path(generated).name)
    for (label_a, text_a), (label_b, text_b) in near_pairs(training):
        if label_a != label_b:
            problems.append(f"near-identical examples under two labels: {label_a} {text_a!r} ~ {label_b} {text_b!r}")
    counts = Counter((label, " ".join(text.split())) for label, text in training)
    problems += [f"duplicate example under {label}: {text!r}" for (label, text), n in counts.items() if n > 1]

    held = [(f"heldout:{row['expect']}", row["text"]) for row in load_labelled(heldout)]
    train_keys = {(label, text) for label, text in training}
    for a, b in near_pairs(training + held):
        if (a in train_keys) != (b in train_keys):
            h, t = (a, b) if a not in train_keys else (b, a)
            problems.append(f"held-out {h[1]!r} leaks from training ({t[0]} {t[1]!r})")

    generated = Path(generated)
    if not generated.exists():
        problems.append(f"{generated}: missing; run `python -m bot faq build`")
    elif generated.read_text(encoding="utf-8") != compiler.compile_kb(kb):
        problems.append(f"{generated}: stale; run `python -m bot faq build`")
    return problems
