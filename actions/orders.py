"""Filing-order status for its owner: collect the order number and phone tail, check, explain.

Nothing about an order, not even whether it exists, is said before the last four digits of the
order's phone number match; a missing order and wrong digits get the same reply. Failures count
per conversation (slot) and per sender in the database (shared by every replica).
"""
from __future__ import annotations

import hmac
import logging
import re
from datetime import timedelta
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.form_moves import MOVE, NOTE, STOP, AskWithNote, GuidedFormValidation, end_form, message_text
from bot.config import get_settings
from bot.nlu.patterns import is_order_id
from bot.order_status import WHERE_TO_FIND_ORDER_NO, describe
from bot.storage import repository
from bot.storage.db import off_loop, session_scope
from bot.storage.models import utcnow

logger = logging.getLogger(__name__)

FORMAT_HELP = "订单号格式是 ICP + 8位日期 + 5位序号（如 ICP2026110400318），或较早的 日期-4位序号（如 20261104-2271）。"
_ATTEMPT = re.compile(r"icp\s*[\d-]+|\d{6,}(?:-\d+)?", re.I)  # looks like someone typed a number
_FOUR_DIGITS = re.compile(r"\D*((?:\d ?){3}\d)\D*")
_LONE_FOUR = re.compile(r"(?<![\d-])(\d{4})(?![\d-])")


def storage_failure(dispatcher: CollectingDispatcher) -> None:
    """The honest reply when the database cannot answer: never a guess, always the hotline."""
    dispatcher.utter_message(
        text=f"抱歉，订单系统暂时查询不了，请稍后再试，或拨打备案热线 {get_settings().hotline}，"
             "也可以在控制台“ICP备案”里直接查看订单进度。")


def locked_reply(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(
        text="为保护订单信息，这次对话里的订单查询已暂停。\n"
             "- 您可以登录华为云控制台，进入“ICP备案”直接查看订单进度\n"
             f"- 或拨打备案热线 {get_settings().hotline}")


def check_owner(sender_id: str, order_no: str, tail: str) -> Optional[str]:
    """The order's status in plain words when the tail matches its phone, "" when not (recorded,
    rate limited), None when the sender or the order is locked out. One read serves both the check
    and the reply. Raises SQLAlchemyError when the database fails."""
    settings = get_settings()
    with session_scope() as session:
        since = utcnow() - timedelta(seconds=settings.lookup_window_seconds)
        if repository.recent_failures(session, sender_id=sender_id, since=since) >= settings.lookup_rate_limit:
            logger.warning("order lookup rate-limited for sender %s", sender_id)
            return None
        if repository.recent_failures(session, order_no=order_no, since=since) >= settings.lookup_order_rate_limit:
            logger.warning("order lookup rate-limited for order %s (failures from several senders)", order_no)
            return None
        order = repository.get_order(session, order_no)
        ok = order is not None and hmac.compare_digest((order.phone or "")[-4:].encode(), tail.encode())
        repository.record_lookup(session, sender_id=sender_id, order_no=order_no, succeeded=ok)
        return describe(order) if ok else ""


def tail_in(tracker: Tracker) -> Optional[str]:
    """Phone digits in the message that no entity labelled as such: a whole phone number, four
    digits beside an order number, or four bare digits when the digits were asked for."""
    phone = next(tracker.get_latest_entity_values("phone"), None)
    if phone:
        return phone[-4:]
    text = message_text(tracker)
    order = next((e for e in tracker.latest_message.get("entities") or [] if e.get("entity") == "order_id"), None)
    if order and order.get("end") is not None:
        rest = text[:order.get("start", 0)] + " " + text[order["end"]:]
        groups = _LONE_FOUR.findall(rest)
        if len(groups) == 1:
            return groups[0]
    if tracker.get_slot("requested_slot") == "phone_tail":
        match = _FOUR_DIGITS.fullmatch(text)
        return match.group(1).replace(" ", "") if match else None
    return None


class ValidateOrderStatusForm(GuidedFormValidation):
    """Collects the order number and the phone's last four digits, and checks them together.

    The identity check runs here, when the digits arrive, so a mismatch keeps the lookup open and
    asks for the digits again in the same reply; the form completes only for the owner.
    """

    form_slots = ("order_id", "phone_tail")
    elsewhere_intents = GuidedFormValidation.elsewhere_intents | {"urge", "create_ticket"}

    def name(self) -> str:
        return "validate_order_status_form"

    async def required_slots(self, domain_slots: List[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[str]:
        if (tracker.get_slot("lookup_failures") or 0) >= get_settings().lookup_max_failures:
            return []  # locked: the submit action explains, nothing more is asked
        return await super().required_slots(domain_slots, dispatcher, tracker, domain)

    # --- what the message carries -------------------------------------------------------------

    def values_in_message(self, tracker: Tracker) -> Dict[str, Any]:
        found = {name: next(tracker.get_latest_entity_values(name), None) for name in ("order_id", "phone_tail")}
        values = {k: v for k, v in found.items() if v}
        text = message_text(tracker)
        attempt = _ATTEMPT.search(text)
        if tracker.get_slot("requested_slot") == "order_id" and "order_id" not in values and attempt:
            values["order_id"] = attempt.group()
        tail = values.get("phone_tail") or tail_in(tracker)
        return {**values, **({"phone_tail": tail} if tail else {})}

    async def extract_order_id(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> Dict[str, Any]:
        """A typed attempt that is not a valid number still reaches validation, to be explained.

        Also on the turn that starts the form (nothing requested yet): "查订单 ICP2026…" with a
        mistyped number is caught at once.
        """
        if tracker.get_slot("requested_slot") not in (None, "order_id"):
            return {}
        if next(tracker.get_latest_entity_values("order_id"), None):
            return {}  # the entity mapping fills it
        attempt = _ATTEMPT.search(message_text(tracker))
        return {"order_id": attempt.group().replace(" ", "")} if attempt else {}

    async def extract_phone_tail(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> Dict[str, Any]:
        """When asked for the digits, a bare "5678" (or "5 6 7 8") or a whole phone number answers
        it; so does four digits typed right after the order number ("ICP2026111600733 6666")."""
        if next(tracker.get_latest_entity_values("phone_tail"), None):
            return {}
        tail = tail_in(tracker)
        return {"phone_tail": tail} if tail else {}

    # --- validation -----------------------------------------------------------------------------

    def validate_order_id(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: DomainDict) -> Dict[str, Any]:
        value = str(value or "").strip().upper()
        if not is_order_id(value):
            return {"order_id": None, NOTE: f"“{value[:30]}”不是有效的订单号。{FORMAT_HELP}请再发一次订单号。"}
        slots: Dict[str, Any] = {"order_id": value}
        if tracker.get_slot("verified_order") != value and "phone_tail" not in tracker.slots_to_validate():
            slots["phone_tail"] = None  # digits given for another order prove nothing for this one
        return slots

    async def validate_phone_tail(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> Dict[str, Any]:
        value = re.sub(r"\s", "", str(value or ""))
        if not re.fullmatch(r"\d{4}", value):
            return {"phone_tail": None, NOTE: "请发订单上预留手机号的后 4位数字，例如 5678。"}
        order_no = tracker.get_slot("order_id")
        if not order_no:
            return {"phone_tail": value}  # checked once the number arrives
        if tracker.get_slot("verified_order") == order_no:
            return {"phone_tail": value}
        try:
            reply = await off_loop(check_owner, tracker.sender_id, order_no, value)
        except SQLAlchemyError:
            logger.exception("order lookup failed for sender %s", tracker.sender_id)
            storage_failure(dispatcher)
            return {"phone_tail": None, MOVE: STOP}
        if reply:
            return {"phone_tail": value, "verified_order": order_no, "order_reply": reply}
        settings = get_settings()
        failures = settings.lookup_max_failures if reply is None else int(tracker.get_slot("lookup_failures") or 0) + 1
        left = settings.lookup_max_failures - failures
        slots: Dict[str, Any] = {"phone_tail": None, "lookup_failures": float(failures), "verified_order": None}
        if left > 0:
            slots[NOTE] = (f"订单号和手机尾号对不上（或查不到这个订单），还可以再试{left}次。"
                           f"请再发一次预留手机号的后4位；如果是订单号写错了，直接发正确的订单号。")
        else:
            locked_reply(dispatcher)
            slots[MOVE] = STOP
        return slots

    # --- what people do inside the lookup ---------------------------------------------------------

    def on_leave(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[str, Any]]:
        dispatcher.utter_message(text="好的，已取消订单查询。还有什么可以帮您？")
        return end_form(order_id=None, phone_tail=None)

    def on_refuse(self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str) -> List[Dict[str, Any]]:
        dispatcher.utter_message(
            text="理解您的顾虑。核对订单号和手机尾号是为了确认您是订单的主人，不会用于其他用途。\n"
                 "不方便提供的话，可以登录华为云控制台进入“ICP备案”直接查看进度，"
                 f"或拨打备案热线 {get_settings().hotline}。")
        return end_form(order_id=None, phone_tail=None)

    def on_dont_know(self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str) -> List[Dict[str, Any]]:
        if slot == "phone_tail":
            dispatcher.utter_message(
                text="预留手机号是提交订单时填写的负责人手机号。记不清的话：\n"
                     "- 登录华为云控制台进入“ICP备案”，可以直接查看订单进度，不需要手机号\n"
                     f"- 或拨打备案热线 {get_settings().hotline}，核实身份后帮您查询")
            return end_form(phone_tail=None)
        dispatcher.utter_message(text=WHERE_TO_FIND_ORDER_NO + "\n找到后直接发给我，我帮您查。")
        return end_form(order_id=None, phone_tail=None)

    def unclear_note(self, slot: str) -> Optional[str]:
        if slot == "phone_tail":
            return "请发订单上预留手机号的后 4位数字（例如 5678）。不想查了说“算了”就行。"
        return f"没看到订单号。{FORMAT_HELP}请发一下订单号，不想查了说“算了”就行。"

    def correction_note(self, slot: str) -> Optional[str]:
        return "好的，请重新发一下手机号后 4位。" if slot == "phone_tail" else "好的，请把正确的订单号发给我。"


class AskOrderId(AskWithNote):
    slot = "order_id"


class AskPhoneTail(AskWithNote):
    slot = "phone_tail"


class ActionOrderStatus(Action):
    """Runs when the lookup form completes: the owner's order in plain words, or why not."""

    def name(self) -> str:
        return "action_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict]:
        return await order_status_reply(dispatcher, tracker)


def read_status(order_no: str) -> Optional[str]:
    with session_scope() as session:
        order = repository.get_order(session, order_no)
        return describe(order) if order is not None else None


async def order_status_reply(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict]:
    """The verified order's status in plain words: the one the identity check just read, else read
    again (for "这个状态我要做什么" later in the conversation)."""
    if (tracker.get_slot("lookup_failures") or 0) >= get_settings().lookup_max_failures:
        locked_reply(dispatcher)
        return []
    order_no = tracker.get_slot("order_id")
    if not order_no or tracker.get_slot("verified_order") != order_no or not tracker.get_slot("phone_tail"):
        return []  # the lookup was left or ended without the owner check: nothing to say
    reply = tracker.get_slot("order_reply")
    if not reply:
        try:
            reply = await off_loop(read_status, order_no)
        except SQLAlchemyError:
            logger.exception("order lookup failed for sender %s", tracker.sender_id)
            storage_failure(dispatcher)
            return []
    if reply is None:
        return []
    dispatcher.utter_message(text=reply)
    return [SlotSet("verified_order", order_no), SlotSet("order_reply", None)]
