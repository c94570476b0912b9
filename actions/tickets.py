"""Support tickets: a form (topic, description, contact), a summary to confirm, then one stored ticket.

Idempotent by construction: the form draws one key when it starts and every confirmation of that
draft carries it, so a repeated confirmation or a retried request finds the stored ticket instead
of creating another. A ticket is reported only after its transaction committed.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.request
import uuid
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from bot.config import get_settings
from bot.nlu.patterns import MOBILE
from bot.storage import repository
from bot.storage.db import session_scope
from bot.storage.models import Ticket, utcnow
from bot.storage.privacy import mask_contact

logger = logging.getLogger(__name__)

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
CONTACT_ATTEMPT = re.compile(r"@|\d[\d\s-]{4,}")
TICKET_SLOTS = ("ticket_topic", "ticket_description", "ticket_contact", "ticket_confirmed", "ticket_key")
TRANSCRIPT_TURNS = 20


def normalize_contact(text: str) -> Optional[str]:
    """A mainland mobile number (digits only) or an e-mail address, else None."""
    text = (text or "").strip()
    digits = re.sub(r"[\s-]", "", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    if MOBILE.fullmatch(digits):
        return digits
    if EMAIL.fullmatch(text):
        return text.lower()
    return None


def transcript(tracker: Tracker, turns: int = TRANSCRIPT_TURNS) -> List[Dict[str, str]]:
    """The recent user and bot messages, for the agent who picks the ticket up."""
    lines = [{"who": "user" if e["event"] == "user" else "bot", "text": e.get("text") or ""}
             for e in tracker.events if e.get("event") in ("user", "bot") and e.get("text")]
    return lines[-turns:]


class ValidateTicketForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_ticket_form"

    async def extract_ticket_key(self, dispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return {} if tracker.get_slot("ticket_key") else {"ticket_key": uuid.uuid4().hex}

    async def extract_ticket_topic(self, dispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """Pre-filled from what the conversation already showed: an order, else the last FAQ topic."""
        if tracker.get_slot("ticket_topic"):
            return {}
        order = tracker.get_slot("verified_order") or tracker.get_slot("order_id")
        if order:
            return {"ticket_topic": f"订单 {order}"}
        topic_id = tracker.get_slot("faq_topic")
        if topic_id:
            from actions.faq import knowledge_base

            topic = knowledge_base().get(topic_id)
            if topic:
                return {"ticket_topic": topic.question}
        return {"ticket_topic": "备案咨询"}

    async def extract_ticket_contact(self, dispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """Only an attempt at a contact (an @, or a run of digits) answers the question; anything
        else (an FAQ question, say) leaves it open, so the FAQ is answered and the form asks again."""
        if tracker.get_slot("requested_slot") != "ticket_contact":
            return {}
        text = (tracker.latest_message.get("text") or "").strip()
        return {"ticket_contact": text} if CONTACT_ATTEMPT.search(text) else {}

    def validate_ticket_description(self, value: Any, dispatcher, tracker, domain) -> Dict[Text, Any]:
        value = str(value or "").strip()
        if len(value) < 4:
            dispatcher.utter_message(text="请再多描述一点遇到的问题（至少几个字），方便客服处理。")
            return {"ticket_description": None}
        return {"ticket_description": value[:2000]}

    def validate_ticket_contact(self, value: Any, dispatcher, tracker, domain) -> Dict[Text, Any]:
        contact = normalize_contact(str(value or ""))
        if contact is None:
            dispatcher.utter_message(text="请留一个中国大陆手机号（11 位）或邮箱地址，例如 13812345678 或 name@example.com。")
            return {"ticket_contact": None}
        return {"ticket_contact": contact}


class ActionCreateTicket(Action):
    def name(self) -> Text:
        return "action_create_ticket"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict]:
        if not tracker.get_slot("ticket_confirmed"):
            return []
        key = tracker.get_slot("ticket_key") or uuid.uuid4().hex
        try:
            with session_scope() as session:
                ticket = repository.create_ticket(
                    session, idempotency_key=key, sender_id=tracker.sender_id,
                    topic=tracker.get_slot("ticket_topic") or "备案咨询",
                    description=tracker.get_slot("ticket_description") or "",
                    contact=tracker.get_slot("ticket_contact") or "",
                    order_no=tracker.get_slot("verified_order") or tracker.get_slot("order_id"),
                    transcript=transcript(tracker))
                session.flush()
                ticket_no, ticket_id = ticket.ticket_no, ticket.id
        except (SQLAlchemyError, RuntimeError):
            logger.exception("storing a ticket failed for sender %s", tracker.sender_id)
            dispatcher.utter_message(
                text=f"抱歉，工单没有提交成功（系统暂时不可用），还没有创建任何工单。请稍后回复“确认”重试，"
                     f"或直接拨打备案热线 {get_settings().hotline}。")
            return [SlotSet("ticket_confirmed", None), FollowupAction("ticket_form")]
        logger.info("ticket %s stored for sender %s (contact %s)", ticket_no, tracker.sender_id,
                    mask_contact(tracker.get_slot("ticket_contact") or ""))
        forward_later(ticket_id)
        dispatcher.utter_message(text=f"工单已提交，编号 **{ticket_no}**。客服会通过您留的联系方式跟进，请留意。")
        return [SlotSet(name, None) for name in TICKET_SLOTS] + [SlotSet("ticket_no", ticket_no)]


def forward_later(ticket_id: int) -> None:
    """Forward to the helpdesk webhook in the background when one is configured; never blocks the reply."""
    url = get_settings().helpdesk_webhook_url
    if url:
        threading.Thread(target=forward, args=(ticket_id, url), daemon=True).start()


def forward(ticket_id: int, url: str, attempts: int = 3, backoff: float = 0.5) -> bool:
    """POST the stored ticket to the helpdesk, retrying; the outcome is recorded on the ticket."""
    with session_scope() as session:
        ticket = session.get(Ticket, ticket_id)
        payload = {"ticket_no": ticket.ticket_no, "topic": ticket.topic, "order_no": ticket.order_no,
                   "description": ticket.description, "contact": ticket.contact, "transcript": ticket.transcript}
    error = None
    for attempt in range(1, attempts + 1):
        try:
            request = urllib.request.Request(url, data=json.dumps(payload, ensure_ascii=False).encode(),
                                             headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(request, timeout=5) as response:
                if 200 <= response.status < 300:
                    error = None
                    break
                error = f"HTTP {response.status}"
        except OSError as exc:
            error = str(exc)[:200]
        logger.warning("forwarding ticket %s failed (attempt %d/%d): %s", payload["ticket_no"], attempt, attempts, error)
        time.sleep(backoff * attempt)
    with session_scope() as session:
        ticket = session.get(Ticket, ticket_id)
        ticket.forward_attempts = (ticket.forward_attempts or 0) + attempt
        ticket.forward_error = error
        if error is None:
            ticket.forwarded_at = utcnow()
    if error:
        logger.error("ticket %s was stored but not forwarded to the helpdesk: %s", payload["ticket_no"], error)
    return error is None
