"""Support tickets: a form (topic, description, contact), a summary to confirm, then one stored ticket.

Idempotent by construction: the form draws one key when it starts and every confirmation of that
draft carries it, so a repeated confirmation or a retried request finds the stored ticket instead
of creating another. A ticket is reported only after its transaction committed.
"""
from __future__ import annotations

import logging
import re
import uuid
from typing import Any, Dict, List, Optional, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.form_moves import (
    MOVE,
    NOTE,
    REQUESTED,
    AskWithNote,
    GuidedFormValidation,
    end_form,
    intent_of,
    message_text,
)
from bot import outbox
from bot.config import get_settings
from bot.nlu.patterns import MOBILE
from bot.storage import repository
from bot.storage.db import off_loop, session_scope
from bot.storage.privacy import mask_contact

logger = logging.getLogger(__name__)

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
TICKET_SLOTS = ("ticket_topic", "ticket_description", "ticket_contact", "ticket_confirmed", "ticket_key",
                "ticket_type")
DEFAULT_TOPIC = "备案咨询"  # stored when nothing narrower is known; never shown to the user
TRANSCRIPT_TURNS = 20
# Refusing every contact, not just the phone ("邮箱也不想给", "电话邮箱都不方便"); "发邮箱吧" offers one.
REFUSE_ALL = re.compile(r"(邮箱|邮件)[^，,。]{0,4}(也|都)?(不|没)|都不(方便|想|留|给|要)|什么都不|任何"
                        r"|联系方式[^，,。]{0,3}(不|没)")
_CONTACT_WORDS = re.compile(r"电话|手机|号码|邮箱|邮件|联系")
_DESCRIPTION_WORDS = re.compile(r"描述|问题|内容|情况")
_CONFIRM = re.compile(r"(确认|确定|提交|没问题|可以|行|ok|okay|yes|对的?|是的?|好的?|嗯+)"
                      r"[吧啊呀的了哈嗯!！。.~ ]*(提交|确认)?[吧啊呀的了哈!！。.~ ]*", re.I)


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


# What a request or a contact message says besides the problem: left out when judging its content.
_NOT_PROBLEM = re.compile(
    r"(你好|您好|hi|hello|在吗|麻烦|请|帮我|帮忙|我)|(想|要|需要|得)?(提|开|建|留|交|提交|新建|发)(个|一个|一张|张|下|一下)?(工单|单子)(吧|啊)?"
    r"|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}|\d[\d -]{5,}\d"
    r"|(那|就)?(留|用|发)?(个)?(我的?)?(邮箱|手机|电话|手机号)(是|吧|号)?|[\W_]",
    re.I)
MIN_PROBLEM = 6  # characters left: enough to be a description


def stated_problem(text: str) -> str:
    """What is left of a message once greetings, the ticket request and any contact are removed."""
    return _NOT_PROBLEM.sub("", text or "")


def contact_in(tracker: Tracker) -> Optional[str]:
    """A phone number or an e-mail address the NLU found anywhere in the current message."""
    return (next(tracker.get_latest_entity_values("phone"), None)
            or next(tracker.get_latest_entity_values("email"), None))


def transcript(tracker: Tracker, turns: int = TRANSCRIPT_TURNS) -> List[Dict[str, str]]:
    """The recent user and bot messages, for the agent who picks the ticket up."""
    lines = [{"who": "user" if e["event"] == "user" else "bot", "text": e.get("text") or ""}
             for e in tracker.events if e.get("event") in ("user", "bot") and e.get("text")]
    return lines[-turns:]


_SUBMIT = re.compile(r"确认|确定|提交|送出|submit|confirm", re.I)
_NOT = re.compile(r"不(要|用|提|交|确认|行|对|是)|别|取消|先等|等等|等一下|[?？]|吗$")


def confirms(tracker: Tracker) -> bool:
    """The whole message is a yes ("确认", "好的提交吧", the button): short, so "是不是还要…" is not."""
    text = message_text(tracker)
    intent, _ = intent_of(tracker)
    if _NOT.search(text):
        return False
    return bool(_CONFIRM.fullmatch(text)) or text == "/affirm" or intent == "affirm" or bool(_SUBMIT.search(text))


def is_complaint(tracker: Tracker) -> bool:
    return tracker.get_slot("ticket_type") == "complaint"


class ValidateTicketForm(GuidedFormValidation):
    form_slots = ("ticket_description", "ticket_contact")
    free_text_slots = ("ticket_description",)
    elsewhere_intents = GuidedFormValidation.elsewhere_intents | {"urge", "ask_order_status"}

    def name(self) -> str:
        return "validate_ticket_form"

    # --- what the message carries -------------------------------------------------------------

    def values_in_message(self, tracker: Tracker) -> Dict[str, Any]:
        requested = tracker.get_slot(REQUESTED)
        contact = contact_in(tracker)
        if contact:
            return {"ticket_contact": contact}  # at any step: "那留邮箱吧 a@b.cn" while asked to describe
        if requested == "ticket_description":
            return {}  # free text: the description itself
        return {"ticket_confirmed": True} if requested == "ticket_confirmed" and confirms(tracker) else {}

    async def extract_ticket_key(self, dispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        return {} if tracker.get_slot("ticket_key") else {"ticket_key": uuid.uuid4().hex}

    async def extract_ticket_topic(self, dispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
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
        return {"ticket_topic": DEFAULT_TOPIC}

    async def extract_ticket_description(self, dispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        """The answer to "describe the problem"; or the problem already stated in the request that
        opened the form ("我想提个工单，幕布照片传了三次都不合格"). A message that only gives a contact
        ("那留邮箱吧 a@b.cn") describes nothing."""
        requested = tracker.get_slot(REQUESTED)
        text = message_text(tracker)
        if (requested is None and not tracker.get_slot("ticket_description")
                and intent_of(tracker)[0] == "create_ticket"):
            return {"ticket_description": text} if len(stated_problem(text)) >= MIN_PROBLEM else {}
        if requested != "ticket_description":
            return {}
        if contact_in(tracker) and len(stated_problem(text)) < MIN_PROBLEM:
            return {}
        return {"ticket_description": text}

    async def extract_ticket_contact(self, dispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        """A contact found in the sentence: at any step before the summary, or as a correction at it."""
        requested = tracker.get_slot(REQUESTED)
        if tracker.get_slot("ticket_contact") and requested != "ticket_confirmed":
            return {}
        contact = contact_in(tracker)
        if contact:
            reconfirm = {"ticket_confirmed": None} if requested == "ticket_confirmed" else {}
            return {"ticket_contact": contact, **reconfirm}
        return {}  # anything else is unclear to the form layer, which words the next prompt

    async def extract_ticket_confirmed(self, dispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        if tracker.get_slot(REQUESTED) != "ticket_confirmed" or contact_in(tracker):
            return {}
        return {"ticket_confirmed": True} if confirms(tracker) else {}

    # --- validation -----------------------------------------------------------------------------

    def validate_ticket_description(self, value: Any, dispatcher, tracker, domain) -> Dict[str, Any]:
        value = str(value or "").strip()
        if len(value) < 4:
            return {"ticket_description": None, NOTE: "请再多描述一点遇到的问题（至少几个字），方便客服处理。"}
        return {"ticket_description": value[:2000]}

    def validate_ticket_contact(self, value: Any, dispatcher, tracker, domain) -> Dict[str, Any]:
        contact = normalize_contact(str(value or ""))
        if contact is None:
            return {"ticket_contact": None, NOTE: CONTACT_FORMAT}
        return {"ticket_contact": contact}

    def validate_ticket_confirmed(self, value: Any, dispatcher, tracker, domain) -> Dict[str, Any]:
        return {"ticket_confirmed": True if value else None}

    # --- what people do inside the ticket form ----------------------------------------------------

    def on_leave(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[str, Any]]:
        dispatcher.utter_message(response="utter_ticket_cancelled")
        return end_form(**{name: None for name in TICKET_SLOTS})

    def on_refuse(self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str) -> List[Dict[str, Any]]:
        if slot == "ticket_description":  # "手机号不方便留" before the contact was even asked
            return [SlotSet(NOTE, "没关系，联系方式到时留个邮箱也可以。先请描述一下您遇到的问题。")]
        if slot != "ticket_contact":
            return [SlotSet(NOTE, self.unclear_note(slot))]
        text = message_text(tracker)
        refused_before = tracker.get_slot(MOVE) == "refuse"
        if refused_before or REFUSE_ALL.search(text):
            dispatcher.utter_message(
                text="明白。没有联系方式的话，客服没法回复您，所以这次先不创建工单。\n"
                     f"您可以直接拨打备案热线 {get_settings().hotline}（每天 {get_settings().service_hours}），"
                     "或者之后想好了再来找我提工单。")
            return end_form(**{name: None for name in TICKET_SLOTS})
        return [SlotSet(NOTE, "没关系，不方便留电话的话，留个邮箱也可以，客服会通过邮件回复您。请发一下您的邮箱地址。")]

    def unclear_note(self, slot: str) -> Optional[str]:
        if slot == "ticket_contact":
            return CONTACT_FORMAT
        if slot == "ticket_confirmed":
            return "请回复“确认”提交工单，或说“取消”。要改联系方式的话，直接发新的手机号或邮箱。"
        return None

    def correction_target(self, text: str, tracker: Tracker) -> Optional[str]:
        if _CONTACT_WORDS.search(text):
            return "ticket_contact"
        if _DESCRIPTION_WORDS.search(text):
            return "ticket_description"
        return super().correction_target(text, tracker)

    def correction_note(self, slot: str) -> Optional[str]:
        if slot == "ticket_description":
            return "好的，请重新描述一下遇到的问题。"
        return "好的，请发一下正确的手机号或邮箱。"


CONTACT_FORMAT = "没看到有效的联系方式。请留一个中国大陆手机号（11位）或邮箱，例如 13812345678 或 name@example.com。"


class AskTicketDescription(AskWithNote):
    slot = "ticket_description"

    def prompt(self, tracker: Tracker) -> Dict[str, Any]:
        if is_complaint(tracker):
            return {"text": "请简单说一下发生了什么（比如哪个环节、什么时候），我们会优先处理。"}
        return {"text": "请描述一下您遇到的问题，越具体越好（比如订单号、报错提示、卡在哪一步）。"}


class AskTicketContact(AskWithNote):
    slot = "ticket_contact"

    def prompt(self, tracker: Tracker) -> Dict[str, Any]:
        return {"text": "请留一个联系方式：中国大陆手机号或邮箱，客服会通过它联系您。"}


class AskTicketConfirmed(AskWithNote):
    """The summary to confirm: what will be filed, in the user's own words, nothing internal."""

    slot = "ticket_confirmed"

    def prompt(self, tracker: Tracker) -> Dict[str, Any]:
        kind = "投诉工单（优先处理）" if is_complaint(tracker) else "工单"
        lines = [f"请确认{kind}信息："]
        topic = tracker.get_slot("ticket_topic")
        if topic and topic != DEFAULT_TOPIC:
            lines.append(f"- 相关：{topic}")
        lines += [f"- 问题描述：{tracker.get_slot('ticket_description') or ''}",
                  f"- 联系方式：{tracker.get_slot('ticket_contact') or ''}",
                  "确认提交吗？"]
        return {"text": "\n".join(lines),
                "buttons": [{"title": "确认提交", "payload": "/affirm"}, {"title": "取消", "payload": "/deny"}]}


class ActionCreateTicket(Action):
    def name(self) -> str:
        return "action_create_ticket"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict]:
        if not tracker.get_slot("ticket_confirmed"):
            return []
        fields = dict(idempotency_key=tracker.get_slot("ticket_key") or uuid.uuid4().hex,
                      sender_id=tracker.sender_id, topic=tracker.get_slot("ticket_topic") or DEFAULT_TOPIC,
                      kind="complaint" if is_complaint(tracker) else "question",
                      description=tracker.get_slot("ticket_description") or "",
                      contact=tracker.get_slot("ticket_contact") or "",
                      order_no=tracker.get_slot("verified_order") or tracker.get_slot("order_id"),
                      transcript=transcript(tracker))
        try:
            ticket_no, ticket_id = await off_loop(store_ticket, **fields)
        except (SQLAlchemyError, RuntimeError):
            logger.exception("storing a ticket failed for sender %s", tracker.sender_id)
            dispatcher.utter_message(
                text=f"抱歉，工单没有提交成功（系统暂时不可用），还没有创建任何工单。请稍后回复“确认”重试，"
                     f"或直接拨打备案热线 {get_settings().hotline}。")
            return [SlotSet("ticket_confirmed", None), FollowupAction("ticket_form")]
        logger.info("ticket %s stored for sender %s (contact %s)", ticket_no, tracker.sender_id,
                    mask_contact(tracker.get_slot("ticket_contact") or ""))
        outbox.wake()  # this process's worker forwards it now; any worker later if this one dies
        if is_complaint(tracker):
            dispatcher.utter_message(text=f"投诉工单已提交，编号 **{ticket_no}**，会优先处理。"
                                          "客服会通过您留的联系方式尽快联系您。")
        else:
            dispatcher.utter_message(text=f"工单已提交，编号 **{ticket_no}**。客服会通过您留的联系方式跟进，请留意。")
        return [SlotSet(name, None) for name in TICKET_SLOTS] + [SlotSet("ticket_no", ticket_no)]


def store_ticket(**fields: Any) -> Tuple[str, int]:
    """Store the ticket (once per idempotency key); its number and row id.

    With HELPDESK_WEBHOOK_URL set, the ticket's delivery to the helpdesk is queued in the same
    transaction (the outbox, bot/outbox.py): a stored ticket always has its pending delivery, and the
    action server's outbox worker sends it, retrying, surviving restarts."""
    with session_scope() as session:
        ticket = repository.create_ticket(session, **fields)
        session.flush()
        if get_settings().helpdesk_webhook_url:
            repository.enqueue_ticket_delivery(session, ticket=ticket)
        return ticket.ticket_no, ticket.id
