"""Answering FAQ questions: the confident answer, a resolved follow-up, or the closest choices."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import followup
from bot.config import get_settings
from bot.faq.kb import KnowledgeBase, Topic, load_kb
from bot.ranking import read

SUGGESTIONS = 3
HUMAN_BUTTON = {"title": "都不是，找人工", "payload": "/request_human"}
# "这个状态需要我做什么" right after a lookup is about that order, not the general FAQ.
ABOUT_MY_ORDER = re.compile(r"(这个|我的|该|那个)(状态|订单)|需要我(做|干|弄)|我(该|要)怎么(办|做)|下一步")


@lru_cache(maxsize=1)
def knowledge_base() -> KnowledgeBase:
    """Read faq/ once per action-server process, on the first FAQ turn."""
    return load_kb(get_settings().faq_dir)


def topic_button(topic: Topic) -> Dict[Text, Text]:
    """A button that answers `topic` when clicked (or typed as its number on WeChat)."""
    return {"title": topic.question, "payload": "/faq" + json.dumps({"faq_topic": topic.id}, ensure_ascii=False)}


def _chosen_topic(tracker: Tracker, kb: KnowledgeBase) -> Topic | None:
    chosen = next(tracker.get_latest_entity_values("faq_topic"), None)
    return kb.get(chosen) if chosen else None


class ActionAnswerFaq(Action):
    def name(self) -> Text:
        return "action_answer_faq"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        kb = knowledge_base()
        message = tracker.latest_message or {}
        if tracker.get_slot("verified_order") and ABOUT_MY_ORDER.search(message.get("text") or ""):
            return [FollowupAction("action_order_status")]
        topic = _chosen_topic(tracker, kb)
        if topic is None:
            facets = followup.detect(message.get("text") or "")
            if facets:
                topic = followup.resolve(kb, tracker.get_slot("faq_topic"), facets)
                if topic is None and any(f.key == "province" for f in facets):
                    return self._no_regional_record(dispatcher, kb, facets)
        if topic is None:
            reading = read(message, get_settings().faq_threshold)
            topic = kb.get(reading.answer or "")
            if topic is None:
                return self._offer_choices(dispatcher, kb, reading.faq_candidates)
        return self._answer(dispatcher, kb, topic)

    @staticmethod
    def _answer(dispatcher: CollectingDispatcher, kb: KnowledgeBase, topic: Topic) -> List[Dict]:
        related = [t for t in (kb.get(r) for r in topic.related) if t is not None]
        dispatcher.utter_message(response=topic.response, buttons=[topic_button(t) for t in related])
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
