"""Handing a user to people: the hotline within service hours, a ticket outside them."""
from __future__ import annotations

from datetime import datetime, time
from typing import Dict, List, Optional
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.clock import tracker_now
from bot.config import get_settings

CHINA = ZoneInfo("Asia/Shanghai")
TICKET_BUTTON = {"title": "提交工单", "payload": "/create_ticket"}


def parse_hours(spec: str) -> tuple[time, time]:
    """'09:00-21:00' → (09:00, 21:00)."""
    start, end = (time.fromisoformat(part.strip()) for part in spec.split("-", 1))
    return start, end


def within_hours(spec: str, now: Optional[datetime] = None) -> bool:
    start, end = parse_hours(spec)
    current = (now or datetime.now(CHINA)).astimezone(CHINA).time()
    return start <= current < end if start <= end else current >= start or current < end


class ActionHumanHandoff(Action):
    """Also ends any form in progress: nobody has to finish a lookup to reach a person."""

    def name(self) -> str:
        return "action_human_handoff"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict]:
        settings = get_settings()
        if within_hours(settings.service_hours, tracker_now(tracker)):
            text = (f"人工客服请拨打备案热线 {settings.hotline}（服务时间每天 {settings.service_hours}，北京时间）。\n"
                    "不方便打电话的话，我也可以帮您提交工单，会有专人跟进。")
        else:
            text = (f"现在不在人工服务时间（每天 {settings.service_hours}，北京时间），"
                    f"热线 {settings.hotline} 暂时无人接听。\n"
                    "我可以先帮您提交工单，客服上班后会联系您。")
        dispatcher.utter_message(text=text, buttons=[TICKET_BUTTON])
        events: List[Dict] = []
        if tracker.active_loop.get("name"):
            events += [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("form_note", None)]
        return events
