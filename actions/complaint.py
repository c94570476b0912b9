"""Complaints: an apology first, then a complaint ticket (high priority) and, in hours, the hotline.

The ticket goes through the same ticket form. An angry message that already says what went wrong
("交上去一个礼拜了都没人理") becomes the description, so the form asks only for a contact.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.faq import ActionAnswerFaq, asks_part_of_last
from actions.handoff import within_hours
from actions.tickets import is_complaint
from bot.clock import tracker_now
from bot.config import get_settings
from bot.nlu.cues import ANNOYED, COMPLAIN
from bot.nlu.normalize import normalize

# What a bare complaint says without saying what happened: left out when judging its content.
_BARE = re.compile(r"我?(要|想)?(投诉|举报|差评|吐槽)(你们|一下|客服|这个|华为云)?|太差(劲)?了?|垃圾|什么破?服务"
                   r"|[!！?？。,，~ ]")
MIN_CONTENT = 8  # characters left after the bare words: enough to be a description


def what_happened(text: str) -> str:
    """The complaint text when it says what happened, else ''."""
    text = normalize(text)
    return text if len(_BARE.sub("", text)) >= MIN_CONTENT else ""


class ActionComplaint(Action):
    def name(self) -> str:
        return "action_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[str, Any]]:
        text = (tracker.latest_message or {}).get("text") or ""
        if tracker.active_loop.get("name") == "ticket_form" and is_complaint(tracker):
            return self.more_of_the_same(dispatcher, tracker, text)
        if not (COMPLAIN.search(text) or ANNOYED.search(text)) and not tracker.active_loop.get("name") \
                and asks_part_of_last(tracker, text):  # "DNS在cloudflare，不在你们这": a follow-up, not a complaint
            return await ActionAnswerFaq().run(dispatcher, tracker, domain)
        settings = get_settings()
        if within_hours(settings.service_hours, tracker_now(tracker)):
            reach = f"着急的话也可以直接拨打备案热线 {settings.hotline}。"
        else:
            reach = f"现在不在人工服务时间（每天 {settings.service_hours}），客服上班后会优先联系您。"
        dispatcher.utter_message(
            text=f"非常抱歉给您带来不好的体验。我帮您登记一张投诉工单，会优先处理；{reach}")
        events: List[Dict[str, Any]] = [SlotSet("ticket_type", "complaint")]
        description = what_happened(text)
        if description and not tracker.get_slot("ticket_description"):
            events.append(SlotSet("ticket_description", description[:2000]))
        loop = tracker.active_loop.get("name")
        if loop and loop != "ticket_form":
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        return events + [FollowupAction("ticket_form")]

    @staticmethod
    def more_of_the_same(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> List[Dict[str, Any]]:
        """More anger while the complaint ticket is being filled: noted in it, not a second apology."""
        events: List[Dict[str, Any]] = []
        added = normalize(text)
        before = tracker.get_slot("ticket_description") or ""
        if added and added not in before:
            events.append(SlotSet("ticket_description", f"{before}\n{added}".strip()[:2000]))
        dispatcher.utter_message(text="明白，这些情况我都写进投诉工单了。")
        return events + [FollowupAction("ticket_form")]
