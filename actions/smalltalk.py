"""A bare "确认 / 对 / 好的" or "不" with nothing pending: say so, never a bare "好的".

A confirmation that confirms nothing must not sound as if something was filed; right after a
ticket was created it says that ticket exists and that no second one was made.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.nlu.normalize import normalize

_CONFIRMING = re.compile(r"确认|确定|提交|^对|^是|^/affirm|^ok$|^yes", re.I)


class ActionAcknowledge(Action):
    def name(self) -> str:
        return "action_acknowledge"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[str, Any]]:
        message = tracker.latest_message or {}
        intent = (message.get("intent") or {}).get("name")
        ticket_no = tracker.get_slot("ticket_no")
        if intent == "affirm" and ticket_no and _just_created(tracker):
            text = f"您的工单 {ticket_no} 已经提交过了，不会重复创建。客服会按您留的联系方式跟进。"
        elif intent == "affirm" and _CONFIRMING.search(normalize(message.get("text"))):
            text = "目前没有待确认的事项，也没有正在提交的工单。需要的话可以说“提交工单”，或者直接问我备案问题。"
        else:
            text = "好的。还有什么备案问题，可以直接问我。"
        dispatcher.utter_message(text=text)
        return []


def _just_created(tracker: Tracker) -> bool:
    """The ticket was created in this conversation since the last form or lookup started."""
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") == "action_create_ticket":
            return True
        if event.get("event") == "active_loop" and event.get("name"):
            return False
    return False
