"""Load `faq/*.yml` into typed topics; the one reader of the knowledge base."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping

import yaml

SPEC_FILE = Path("spec") / "faq_topics.yml"
PROVINCES_FILE = Path("provinces") / "rules.yml"
PARTS = ("how_long", "where", "cost", "who", "send_to", "elsewhere")  # the parts an answer may declare


@dataclass(frozen=True)
class Topic:
    id: str
    group: str
    question: str
    answer: str
    examples: tuple[str, ...]
    related: tuple[str, ...] = ()
    facets: dict = field(default_factory=dict)
    parts: dict = field(default_factory=dict)  # part → a short answer to just that part (follow-ups)
    source: str = ""
    reviewed: str = ""

    @property
    def intent(self) -> str:
        return f"faq/{self.id}"

    @property
    def response(self) -> str:
        return f"utter_faq/{self.id}"


@dataclass(frozen=True)
class Group:
    name: str
    title: str
    path: Path
    topics: tuple[Topic, ...]


@dataclass(frozen=True)
class KnowledgeBase:
    groups: tuple[Group, ...]

    @property
    def topics(self) -> tuple[Topic, ...]:
        return tuple(t for g in self.groups for t in g.topics)

    @cached_property
    def _index(self) -> Mapping[str, Topic]:
        """Built once: the FAQ action looks topics up many times a turn."""
        return MappingProxyType({t.id: t for t in self.topics})

    def by_id(self) -> dict[str, Topic]:
        return dict(self._index)

    def get(self, topic_id: str) -> Topic | None:
        return self._index.get(topic_id)


def _topic(raw: dict, group: str) -> Topic:
    return Topic(
        id=str(raw["id"]),
        group=group,
        question=str(raw.get("question", "")),
        answer=str(raw.get("answer", "")).strip(),
        examples=tuple(str(e) for e in raw.get("examples") or ()),
        related=tuple(str(r) for r in raw.get("related") or ()),
        facets=dict(raw.get("facets") or {}),
        parts={str(k): str(v).strip() for k, v in (raw.get("parts") or {}).items()},
        source=str(raw.get("source", "")),
        reviewed=str(raw.get("reviewed", "")),
    )


def load_group(path: Path) -> Group:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    name = str(raw.get("group", path.stem))
    topics = tuple(_topic(t, name) for t in raw.get("topics") or ())
    return Group(name=name, title=str(raw.get("title", name)), path=path, topics=topics)


def group_files(faq_dir: Path) -> list[Path]:
    """The topic-group files: every `*.yml` directly in `faq/` (the spec lives in a subfolder)."""
    return sorted(p for p in Path(faq_dir).glob("*.yml") if p.is_file())


def load_kb(faq_dir: Path) -> KnowledgeBase:
    return KnowledgeBase(groups=tuple(load_group(p) for p in group_files(faq_dir)))


@dataclass(frozen=True)
class ProvinceRules:
    """One province's own filing rules (or that it has none beyond the general ones)."""

    province: str
    answer: str
    source: str = ""
    reviewed: str = ""


def load_provinces(faq_dir: Path) -> dict[str, ProvinceRules]:
    """faq/provinces/rules.yml by province name; empty when the file is absent."""
    path = Path(faq_dir) / PROVINCES_FILE
    if not path.exists():
        return {}
    rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return {str(r["province"]): ProvinceRules(province=str(r["province"]), answer=str(r["answer"]).strip(),
                                              source=str(r.get("source", "")), reviewed=str(r.get("reviewed", "")))
            for r in rows}


def load_spec(faq_dir: Path) -> list[dict]:
    """The topic list the assistant must answer (a copy of shared/faq_topics.yml kept in the repo)."""
    return yaml.safe_load((Path(faq_dir) / SPEC_FILE).read_text(encoding="utf-8")) or []


def load_labelled(paths: Iterable[Path]) -> list[dict]:
    """Labelled `[{text, expect}]` lists, from files or folders of `*.yml`."""
    items: list[dict] = []
    for path in paths:
        path = Path(path)
        files = sorted(path.glob("*.yml")) if path.is_dir() else [path]
        for f in files:
            for row in yaml.safe_load(f.read_text(encoding="utf-8")) or []:
                items.append({"text": str(row["text"]), "expect": str(row["expect"]), "file": f.name})
    return items
