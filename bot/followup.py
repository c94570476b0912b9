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

# Short and leaning on context: "那X呢", "X呢", "X那边呢", "要是X的话", "换成X", "X也要吗".
_ALSO = r"也(?:要|需要|得|用|算|可以|行)(?:备案|办|做|备)?(?:吗|么|不)?"
_SHAPE = re.compile(
    r"^(?:那么?|要是|如果是|换成|换做|那如果是?)?.{1,10}?(?:那边|这边|的话|的)?"
    r"(?:呢|嘞|咧|呐|捏|" + _ALSO + r")?[?？!！。.~～]*$"
)
_LEANS = re.compile(r"(?:^(?:那|要是|如果是|换成|换做))|(?:呢|的话|" + _ALSO + r")[?？!！。.~～]*$")
MAX_FOLLOWUP_CHARS = 14

# A part of the answer just given ("这个要多久", "入口在哪", "要钱吗"): the cue, and what else may
# stand around it. More than a couple of other characters and the message names its own subject
# ("管局审核要多久" is a question of its own, not a follow-up).
PART_CUES: dict[str, str] = {
    "send_to": r"(发|寄|邮)(到|给|去)(哪|谁)[里儿个]?(邮箱|地址)?|哪个邮箱|什么邮箱|邮箱(是|地址是?)(多少|什么|啥)",
    "how_long": r"多久|多长时间|几天|多少天|几个工作日|啥时候|什么时候(能|会|可以)?(好|出|下来|完|有结果)?"
                r"|时间限制|期限|时限|截止|有效期|周末|节假日|工作日|自然日"
                r"|how long|weekends?|holidays?|working days?|business days?",
    "cost": r"多少钱|收费|要钱|花钱|费用|免费|付费|给钱|钱吗",
    "where": r"在哪[里儿]?|哪[里儿]|入口|怎么进|从哪|点哪|哪个(页面|菜单|网站|地方)|链接|网址",
    "elsewhere": r"别家|别的(服务商|平台|厂商|家)|其他(服务商|平台|厂商|家)|第三方|不在(你们|华为)"
                 r"|不是(你们|华为云?)的|外面买的"
                 r"|cloudflare|dnspod|godaddy|namesilo|阿里云|腾讯云|西部数码|万网",
    "who": r"找谁|谁(来|去)?(办|做|弄|审|负责|打)?|哪个部门",
}
_PART = {key: re.compile(cue) for key, cue in PART_CUES.items()}
_FILLER = re.compile(r"[那这它个还也都就要得需是的了吗呢啊呀嘛吧么请问一般大概能会去办弄点操作做?？!！。,，.~～ ]")
MAX_PART_REST = 1


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


def part_asked(text: str) -> str | None:
    """The answer part a short follow-up asks for ("要多久" → how_long), or None."""
    text = (text or "").strip().lower()
    if not text or len(text) > MAX_FOLLOWUP_CHARS:
        return None
    for key, cue in _PART.items():
        if cue.search(text) and len(_FILLER.sub("", cue.sub("", text))) <= MAX_PART_REST:
            return key
    return None


def part_in(text: str, topic: Topic | None) -> str | None:
    """A part of `topic` that a longer message asks about ("app这个审核大概多久" → how_long).

    Used only when the FAQ ranking is unsure, so a message that names its own topic never gets here.
    """
    if topic is None or not topic.parts:
        return None
    lowered = (text or "").lower()
    return next((key for key, cue in _PART.items() if key in topic.parts and cue.search(lowered)), None)


def detect(text: str) -> list[Facet]:
    """The facets of a follow-up-shaped message; empty when the message stands on its own."""
    text = (text or "").strip()
    part = part_asked(text)
    if part:
        return [Facet("part", part)]
    if not text or len(text) > MAX_FOLLOWUP_CHARS or not _LEANS.search(text) or not _SHAPE.match(text):
        return []
    return facets_in(text)


def _matches(topic: Topic, facet: Facet) -> bool:
    if facet.key == "part":
        return facet.value in topic.parts
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
        if facet.key == "part" and _matches(last, facet):
            return last
        if _matches(last, facet) and facet.key not in ("province", "part"):
            continue  # "那个人呢" right after the individual answer asks nothing new for this facet
        for candidate in (*related, *same_group, *kb.topics):
            if _matches(candidate, facet):
                return candidate
    return None
