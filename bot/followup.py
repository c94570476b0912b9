"""Follow-up questions ("那公司呢?", "管局那边呢", "上海呢") resolved from the last FAQ topic.

A follow-up names one facet (subject type, review stage, platform, province) and leans on the
previous answer for the rest. Topics declare their facets in `faq/`; resolving means finding the
topic nearest the last one that carries the new facet value.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot.faq.kb import KnowledgeBase, Topic
from bot.nlu import patterns

FACET_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "subject": {
        "individual": ("个人", "自己", "私人", "自然人"),
        "company": ("公司", "企业", "单位", "工作室", "个体户", "事业单位", "组织"),
    },
    "stage": {
        "provider": ("初审", "初申", "接入商审核", "华为云审核", "华为云那边"),
        "bureau": ("管局", "官局", "管居", "通管局", "通信管理局"),
        "sms": ("短信核验", "短信"),
    },
    "platform": {
        "app": ("app", "小程序", "快应用"),
        "website": ("网站", "网页"),
    },
}

# Short and leaning on context: "那X呢", "X呢", "X那边呢", "要是X的话", "换成X".
_SHAPE = re.compile(
    r"^(?:那么?|要是|如果是|换成|换做|那如果是?)?.{1,10}?(?:那边|这边|的话|的)?(?:呢|嘞|咧|呐|捏)?[?？!！。.~～]*$"
)
_LEANS = re.compile(r"(?:^(?:那|要是|如果是|换成|换做))|(?:呢|的话)[?？!！。.~～]*$")
MAX_FOLLOWUP_CHARS = 14


@dataclass(frozen=True)
class Facet:
    key: str  # subject | stage | platform | province
    value: str


def facets_in(text: str) -> list[Facet]:
    """Every facet value named in the text (provinces by their canonical name)."""
    lowered = text.lower()
    found = [
        Facet(key, value)
        for key, values in FACET_WORDS.items()
        for value, words in values.items()
        if any(w in lowered for w in words)
    ]
    for m in patterns.PROVINCE.finditer(text):
        name = patterns.canonical("province", m.group())
        if name:
            found.append(Facet("province", name))
    return found


def detect(text: str) -> list[Facet]:
    """The facets of a follow-up-shaped message; empty when the message stands on its own."""
    text = (text or "").strip()
    if not text or len(text) > MAX_FOLLOWUP_CHARS or not _LEANS.search(text) or not _SHAPE.match(text):
        return []
    return facets_in(text)


def _matches(topic: Topic, facet: Facet) -> bool:
    if facet.key == "province":
        return facet.value in (topic.facets.get("provinces") or ())
    return topic.facets.get(facet.key) == facet.value


def resolve(kb: KnowledgeBase, last_topic_id: str | None, facets: list[Facet]) -> Topic | None:
    """The topic a follow-up means: nearest to the last topic (related, then same group, then any)."""
    topics = kb.by_id()
    last = topics.get(last_topic_id or "")
    if last is None or not facets:
        return None
    related = [topics[r] for r in last.related if r in topics]
    same_group = [t for t in kb.topics if t.group == last.group]
    for facet in facets:
        if _matches(last, facet) and facet.key != "province":
            continue  # "那个人呢" right after the individual answer asks nothing new for this facet
        for candidate in (*related, *same_group, *kb.topics):
            if _matches(candidate, facet):
                return candidate
    return None
