"""Answering FAQ questions: the confident answer, a resolved follow-up, or the closest choices;
and the user's "有帮助 / 没帮助" on an answer, stored for the knowledge base's owners."""
from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import followup
from bot.config import get_settings
from bot.faq.kb import KnowledgeBase, ProvinceRules, Topic, load_kb, load_provinces
from bot.ranking import faq_ranking, read
from bot.storage.db import off_loop

logger = logging.getLogger(__name__)

SUGGESTIONS = 3
HUMAN_BUTTON = {"title": "都不是，找人工", "payload": "/request_human"}
# Last under an answer, two words each: the related topics stay the first (and numbered) choices.
FEEDBACK_BUTTONS = [{"title": "有帮助", "payload": "/feedback_helpful"},
                    {"title": "没帮助", "payload": "/feedback_unhelpful"}]
# "这个状态需要我做什么" right after a lookup is about that order, not the general FAQ.
ABOUT_MY_ORDER = re.compile(r"(这个|我的|该|那个)(状态|订单)|需要我(做|干|弄)|我(该|要)怎么(办|做|弄|处理|解决|改)"
                            r"|下一步"
                            r"|(接下来|现在|然后|那)?我?(要|该|需要|得)?(做|干|弄|办)(什么|啥|些什么|点什么)"
                            r"|^(那|那我|我)?(现在|接下来)?(该|要|应该)?怎么(办|弄|做)")
HOURS_ASKED = re.compile(r"上班|几点|什么时候.{0,4}(打|联系|找|有人)|服务时间|营业|明天.{0,4}(打|找)|有人(接|在)")
CONTEXT_ACTIONS = ("action_order_status", "action_urge", "action_answer_faq", "action_human_handoff",
                   "action_out_of_scope", "order_status_form")
CONTEXT_FLOOR = 0.05  # a topic next to the last one is taken from this ranking confidence up


@lru_cache(maxsize=1)
def knowledge_base() -> KnowledgeBase:
    """Read faq/ once per action-server process, on the first FAQ turn."""
    return load_kb(get_settings().faq_dir)


@lru_cache(maxsize=1)
def province_rules() -> Dict[str, ProvinceRules]:
    """faq/provinces/rules.yml, read once per action-server process."""
    return load_provinces(get_settings().faq_dir)


def topic_button(topic: Topic) -> Dict[str, str]:
    """A button that answers `topic` when clicked (or typed as its number on WeChat)."""
    return {"title": topic.question, "payload": "/faq" + json.dumps({"faq_topic": topic.id}, ensure_ascii=False)}


def last_reply(tracker: Tracker) -> str | None:
    """Which of the context-giving actions answered last (before this message)."""
    current = max((i for i, e in enumerate(tracker.events) if e.get("event") == "user"), default=len(tracker.events))
    return next((e.get("name") for e in reversed(tracker.events[:current])
                 if e.get("event") == "action" and e.get("name") in CONTEXT_ACTIONS), None)


async def context_reply(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict] | None:
    """A short message that leans on what was just said, answered from it ("要多久啊" right after a
    lookup, "什么时候上班" right after the hand-over), or None when it stands on its own."""
    text = (tracker.latest_message or {}).get("text") or ""
    last = last_reply(tracker)
    if tracker.get_slot("verified_order") and (
            ABOUT_MY_ORDER.search(text)
            or (last in ("action_order_status", "action_urge") and followup.part_asked(text))):
        from actions.orders import order_status_reply

        return await order_status_reply(dispatcher, tracker)
    if last == "order_status_form" and tracker.get_slot("form_move") in ("dont_know", "refuse") \
            and ABOUT_MY_ORDER.search(text):  # "那怎么办" after "手机号忘了"
        dispatcher.utter_message(text="可以登录华为云控制台，进入“ICP备案”直接查看订单进度，不需要手机号；"
                                      f"或拨打备案热线 {get_settings().hotline}，核实身份后帮您查询。")
        return []
    if last == "action_human_handoff" and HOURS_ASKED.search(text):
        settings = get_settings()
        dispatcher.utter_message(text=f"人工服务时间是每天 {settings.service_hours}（北京时间），"
                                      f"热线 {settings.hotline}。不想等的话，我现在就可以帮您提交工单。",
                                 buttons=[{"title": "提交工单", "payload": "/create_ticket"}])
        return []
    return None


PROVINCE_ONLY = 6  # characters: "江苏", "我在广西", "内蒙古的" name a province and ask nothing else
REGIONS = {"华北": "regional_north_china", "华东": "regional_east_china", "华中": "regional_central_china",
           "华南": "regional_south_china", "西北": "regional_northwest", "西南": "regional_southwest"}


def region_named(text: str, kb: KnowledgeBase) -> Topic | None:
    """"华东那几个省有啥规定": the region's topic (which asks for the province) when the ranking is unsure."""
    return next((kb.get(t) for word, t in REGIONS.items() if word in text), None)


def in_context(last: Topic | None, ranking, kb: KnowledgeBase) -> Topic | None:
    """When the ranking is unsure, the best-ranked topic next to the one just answered (itself or a
    related one): "转完还要重新审核吗" right after the transfer answer is about transfers."""
    if last is None:
        return None
    near = {t for t in (last.id, *last.related) if kb.get(t) is not None}
    return next((kb.get(t) for t, score in ranking if t in near and score >= CONTEXT_FLOOR), None)


def _chosen_topic(tracker: Tracker, kb: KnowledgeBase) -> Topic | None:
    chosen = next(tracker.get_latest_entity_values("faq_topic"), None)
    return kb.get(chosen) if chosen else None


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[Dict]:
        kb = knowledge_base()
        message = tracker.latest_message or {}
        text = message.get("text") or ""
        in_form = bool(tracker.active_loop.get("name"))
        chosen = topic = _chosen_topic(tracker, kb)
        if topic is None:
            leaning = await context_reply(dispatcher, tracker)
            if leaning is not None:
                return leaning
        facets = followup.detect(text) if topic is None else []
        provinces = [f.value for f in facets if f.key == "province"]
        part = next((f.value for f in facets if f.key == "part"), None)
        named = list(dict.fromkeys(e.get("value") for e in message.get("entities") or []
                                   if e.get("entity") == "province"))
        if topic is None and not provinces and named and len(text) <= PROVINCE_ONLY:
            provinces = named  # "江苏", "我在广西": the reply to a region's "which province?"
        if provinces and province_rules():
            return self._answer_provinces(dispatcher, kb, provinces, in_form)
        if facets:
            topic = followup.resolve(kb, tracker.get_slot("faq_topic"), facets)
            if topic is not None and part:
                return self._answer_part(dispatcher, topic, part, in_form)
            if topic is None and provinces:
                return self._no_regional_record(dispatcher, kb, facets)
        if topic is None:
            reading = read(message, get_settings().faq_threshold)
            topic = kb.get(reading.answer or "")
            if topic is None:
                topic = region_named(text, kb)
            if topic is None:
                last = kb.get(tracker.get_slot("faq_topic") or "")
                part = followup.part_in(text, last)
                if part and last is not None:  # a part is only ever found in a topic
                    return self._answer_part(dispatcher, last, part, in_form)
                topic = in_context(last, reading.faq, kb)
            if topic is None:
                # Inside a form an unclear aside gets no menu: the form asks its question next.
                return [] if in_form else self._offer_choices(dispatcher, kb, reading.faq_candidates)
        last_id = tracker.get_slot("faq_topic")
        if topic.id == last_id and chosen is None:
            part = followup.part_in(text, topic)  # "具体原因在哪里看": not the whole answer again
            if part:
                return self._answer_part(dispatcher, topic, part, in_form)
        if topic.group == "regional" and named and province_rules():
            return self._answer_provinces(dispatcher, kb, named, in_form)
        # Inside a form the answer is an aside and the form asks its question next: no buttons.
        return self._answer(dispatcher, kb, topic, ask_feedback=not in_form, related=not in_form)

    @staticmethod
    def _answer_part(dispatcher: CollectingDispatcher, topic: Topic, part: str, in_form: bool) -> List[Dict]:
        """Only the part asked about ("要多久" → how long), never the whole answer again."""
        dispatcher.utter_message(text=topic.parts[part], buttons=[] if in_form else FEEDBACK_BUTTONS)
        return [SlotSet("faq_topic", topic.id)]

    @staticmethod
    def _answer_provinces(dispatcher: CollectingDispatcher, kb: KnowledgeBase, names: List[str],
                          in_form: bool) -> List[Dict]:
        """Each named province's own rules; never a block that covers its neighbours too."""
        rules = province_rules()
        known = [rules[n] for n in names if n in rules]
        if not known:
            return ActionAnswerFaq._no_regional_record(dispatcher, kb, [followup.Facet("province", n) for n in names])
        for i, entry in enumerate(known):
            last = i == len(known) - 1
            dispatcher.utter_message(text=entry.answer, buttons=FEEDBACK_BUTTONS if last and not in_form else [])
        regional = next((t for t in kb.topics if known[-1].province in (t.facets.get("provinces") or ())), None)
        events: List[Dict] = [SlotSet("province", known[-1].province)]
        return events + ([SlotSet("faq_topic", regional.id)] if regional else [])

    @staticmethod
    def _answer(dispatcher: CollectingDispatcher, kb: KnowledgeBase, topic: Topic,
                ask_feedback: bool = True, related: bool = True) -> List[Dict]:
        provinces = topic.facets.get("provinces") or ()
        if provinces and related:  # a region's answer asks which province: one button each
            dispatcher.utter_message(response=topic.response, buttons=[{"title": p, "payload": p} for p in provinces])
            return [SlotSet("faq_topic", topic.id)]
        others = [t for t in (kb.get(r) for r in topic.related) if t is not None] if related else []
        buttons = [topic_button(t) for t in others] + (FEEDBACK_BUTTONS if ask_feedback else [])
        dispatcher.utter_message(response=topic.response, buttons=buttons)
        return [SlotSet("faq_topic", topic.id)]

    @staticmethod
    def _offer_choices(dispatcher: CollectingDispatcher, kb: KnowledgeBase, candidates) -> List[Dict]:
        topics = [t for t in (kb.get(c) for c in candidates) if t is not None][:SUGGESTIONS]
        text = "我不太确定您问的是哪一个，您是想了解：" if topics else "抱歉，我没太明白您的问题。"
        dispatcher.utter_message(text=text, buttons=[topic_button(t) for t in topics] + [HUMAN_BUTTON])
        return []

    @staticmethod
    def _no_regional_record(dispatcher: CollectingDispatcher, kb: KnowledgeBase, facets) -> List[Dict]:
        names = "、".join(f.value for f in facets if f.key == "province")
        regional = [t for t in kb.topics if t.group == "regional" and t.facets.get("provinces")]
        dispatcher.utter_message(
            text=f"{names}管局目前没有我这里收录的特别要求，按通用规则准备即可，以属地管局最新要求为准。"
            f"\n想确认的话可以拨打备案热线 {get_settings().hotline}。",
            buttons=[topic_button(t) for t in regional[:SUGGESTIONS]],
        )
        return []


# --- feedback on an answer ------------------------------------------------------------------------


def rated_answer(events: List[Dict[str, Any]]) -> tuple[str, Dict[str, Any]] | None:
    """The answer a verdict is about: (topic id, the user event it answered), or None.

    Only the turn just before the verdict counts: if the assistant did anything after its FAQ
    answer (another action, a form, the choices without an answer), the verdict is not about
    an answer and nothing is stored. A second click on the same buttons finds this action last.
    """
    events = list(events)
    current = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    topic: str | None = None
    answered = False
    for event in reversed(events[:current]):
        kind = event.get("event")
        if kind == "slot" and event.get("name") == "faq_topic" and topic is None and not answered:
            topic = event.get("value")
        elif kind == "action" and event.get("name") != "action_listen":
            if answered or event.get("name") != "action_answer_faq" or not topic:
                return None
            answered = True
        elif kind == "user":
            return (topic, event) if answered and topic else None
    return None


def asked_question(user_event: Dict[str, Any], topic: Topic) -> str:
    """What the user asked, in their words; a clicked suggestion (a payload) was its button title."""
    text = (user_event.get("text") or "").strip()
    return topic.question if not text or text.startswith("/") else text


def other_candidates(user_event: Dict[str, Any], topic: Topic, kb: KnowledgeBase) -> List[Topic]:
    """The FAQ ranking of the question the answer was for, minus the answer; its related topics
    fill up (a clicked suggestion or a follow-up has no useful ranking of its own)."""
    ranked = [t for t, _ in faq_ranking(user_event.get("parse_data") or {})]
    ids = dict.fromkeys(i for i in ranked + list(topic.related) if i != topic.id)
    return [t for t in (kb.get(i) for i in ids) if t is not None][:SUGGESTIONS]


def store_answer_feedback(**fields: Any) -> int:
    """One row in answer_feedback (runs in a worker thread: the database may be slow or down)."""
    from bot.storage.db import session_scope
    from bot.storage.feedback import add_answer_feedback

    with session_scope() as session:
        return add_answer_feedback(session, **fields).id


class ActionAnswerFeedback(Action):
    """"有帮助" → thanks; "没帮助" (or "不是" right after an answer) → the other candidates for the
    same question, a person and a ticket. Either verdict is stored with the masked question."""

    THANKS = "感谢反馈！很高兴能帮上忙，还有别的备案问题可以继续问我。"
    SORRY = "抱歉没帮上忙。您想问的是不是下面这些？"
    SORRY_NO_CHOICES = "抱歉没帮上忙。可以换个说法再问我一次，或者找人工帮您："

    def name(self) -> str:
        return "action_answer_feedback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[Dict]:
        from actions.handoff import TICKET_BUTTON
        from bot.storage.privacy import mask_text

        helpful = ((tracker.latest_message or {}).get("intent") or {}).get("name") == "feedback_helpful"
        kb = knowledge_base()
        rated = rated_answer(tracker.events)
        topic = kb.get(rated[0]) if rated else None
        if topic is not None and rated:
            fields = dict(conversation_id=tracker.sender_id, channel=tracker.get_latest_input_channel() or "",
                          topic=topic.id, question=mask_text(asked_question(rated[1], topic)), helpful=helpful)
            try:
                await off_loop(store_answer_feedback, **fields)
            except Exception:  # a verdict is worth a log line, never a failed turn
                logger.exception("answer feedback on %s not stored for sender %s", topic.id, tracker.sender_id)
        if helpful:
            dispatcher.utter_message(text=self.THANKS)
            return []
        choices = other_candidates(rated[1], topic, kb) if topic is not None and rated else []
        if choices:
            buttons = [topic_button(t) for t in choices] + [HUMAN_BUTTON, TICKET_BUTTON]
            dispatcher.utter_message(text=self.SORRY, buttons=buttons)
        else:
            dispatcher.utter_message(text=self.SORRY_NO_CHOICES,
                                     buttons=[{"title": "找人工", "payload": "/request_human"}, TICKET_BUTTON])
        return []


def asks_part_of_last(tracker: Tracker, text: str) -> bool:
    """The message asks for a part of the answer just given ("有时间限制吗", "DNS在cloudflare")."""
    return followup.part_in(text, knowledge_base().get(tracker.get_slot("faq_topic") or "")) is not None


class ActionOutOfScope(Action):
    """Declines what is not about filing, after checking it is not a follow-up in disguise:
    "那我现在要做什么" after a lookup, "有时间限制吗" after an answer that has that part."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[Dict]:
        text = (tracker.latest_message or {}).get("text") or ""
        leaning = await context_reply(dispatcher, tracker)
        if leaning is not None:
            return leaning
        short = len(text) <= followup.MAX_FOLLOWUP_CHARS * (3 if text.isascii() else 1)  # English takes more letters
        if short and asks_part_of_last(tracker, text):
            return await ActionAnswerFaq().run(dispatcher, tracker, domain)  # the FAQ action answers that part
        dispatcher.utter_message(response="utter_out_of_scope")
        return []
