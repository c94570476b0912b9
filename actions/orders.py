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
from typing import Any, Dict, List, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from bot.config import get_settings
from bot.nlu.normalize import normalize
from bot.nlu.patterns import is_order_id
from bot.order_status import WHERE_TO_FIND_ORDER_NO, describe
from bot.storage import repository
from bot.storage.db import session_scope
from bot.storage.models import utcnow

logger = logging.getLogger(__name__)

FORMAT_HELP = "订单号格式是 ICP + 8 位日期 + 5 位序号（如 ICP2026110400318），或较早的 日期-4位序号（如 20261104-2271）。"
_ATTEMPT = re.compile(r"icp\s*[\d-]+|\d{6,}(?:-\d+)?", re.I)  # looks like someone typed a number
_DONT_KNOW = re.compile(r"(不知道|忘了|忘记|找不到|没有|哪里看|在哪|怎么找|怎么查).{0,6}(订单号|单号)|(订单号|单号).{0,6}(在哪|哪里|怎么找|怎么看|不知道)")
DONT_KNOW = "?"  # what extract_order_id reports for "我不知道订单号"
_FOUR_DIGITS = re.compile(r"\D*(\d{4})\D*")


def storage_failure(dispatcher: CollectingDispatcher) -> None:
    """The honest reply when the database cannot answer: never a guess, always the hotline."""
    dispatcher.utter_message(
        text=f"抱歉，订单系统暂时查询不了，请稍后再试，或拨打备案热线 {get_settings().hotline}，也可以在控制台“ICP备案”里直接查看订单进度。")


class ValidateOrderStatusForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_order_status_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        if (tracker.get_slot("lookup_failures") or 0) >= get_settings().lookup_max_failures:
            return []  # locked: the submit action explains, nothing more is asked
        return domain_slots

    async def extract_order_id(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> Dict[Text, Any]:
        """A typed attempt that is not a valid number still reaches validation, to be explained.

        Also on the turn that starts the form (nothing requested yet): "查订单 ICP2026…" with a
        mistyped number is caught at once.
        """
        if tracker.get_slot("requested_slot") not in (None, "order_id") or tracker.get_slot("order_id"):
            return {}
        if next(tracker.get_latest_entity_values("order_id"), None):
            return {}
        text = normalize(tracker.latest_message.get("text"))
        if _DONT_KNOW.search(text):
            return {"order_id": DONT_KNOW}  # an answer of sorts: validation explains, the form re-asks
        attempt = _ATTEMPT.search(text)
        return {"order_id": attempt.group().replace(" ", "")} if attempt else {}

    async def extract_phone_tail(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> Dict[Text, Any]:
        """When asked for the digits, a bare "5678" or a whole phone number answers it."""
        if next(tracker.get_latest_entity_values("phone_tail"), None):
            return {}
        phone = next(tracker.get_latest_entity_values("phone"), None)
        if phone:
            return {"phone_tail": phone[-4:]}
        if tracker.get_slot("requested_slot") != "phone_tail":
            return {}
        match = _FOUR_DIGITS.fullmatch(normalize(tracker.latest_message.get("text")))
        return {"phone_tail": match.group(1)} if match else {}

    def validate_order_id(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: DomainDict) -> Dict[Text, Any]:
        if value == DONT_KNOW:
            dispatcher.utter_message(text=WHERE_TO_FIND_ORDER_NO)
            return {"order_id": None}
        value = str(value or "").strip().upper()
        if not is_order_id(value):
            dispatcher.utter_message(text=f"“{value[:30]}”不是有效的订单号。{FORMAT_HELP}")
            return {"order_id": None}
        slots: Dict[Text, Any] = {"order_id": value}
        verified = tracker.get_slot("verified_order")
        new_tail = next(tracker.get_latest_entity_values("phone_tail"), None)
        if verified and verified != value and not new_tail:
            slots["phone_tail"] = None  # the digits proved another order; ask again for this one
        return slots

    def validate_phone_tail(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> Dict[Text, Any]:
        value = str(value or "").strip()
        if not re.fullmatch(r"\d{4}", value):
            dispatcher.utter_message(text="请输入订单上预留手机号的后 4 位数字，例如 5678。")
            return {"phone_tail": None}
        return {"phone_tail": value}


class ActionOrderStatus(Action):
    """Runs when the form is complete: rate limit, identity check, then the status in plain words."""

    def name(self) -> Text:
        return "action_order_status"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict]:
        settings = get_settings()
        failures = int(tracker.get_slot("lookup_failures") or 0)
        if failures >= settings.lookup_max_failures:
            return self._locked(dispatcher)
        order_no, tail = tracker.get_slot("order_id"), tracker.get_slot("phone_tail")
        if not order_no or not tail:
            return []
        try:
            with session_scope() as session:
                since = utcnow() - timedelta(seconds=settings.lookup_window_seconds)
                if repository.recent_failures(session, sender_id=tracker.sender_id, since=since) \
                        >= settings.lookup_rate_limit:
                    logger.warning("order lookup rate-limited for sender %s", tracker.sender_id)
                    return self._locked(dispatcher)
                if repository.recent_failures(session, order_no=order_no, since=since) \
                        >= settings.lookup_order_rate_limit:
                    logger.warning("order lookup rate-limited for order %s (failures from several senders)",
                                   order_no)
                    return self._locked(dispatcher)
                order = repository.get_order(session, order_no)
                ok = order is not None and hmac.compare_digest((order.phone or "")[-4:].encode(), tail.encode())
                repository.record_lookup(session, sender_id=tracker.sender_id, order_no=order_no, succeeded=ok)
                reply = describe(order) if ok else None
        except SQLAlchemyError:
            logger.exception("order lookup failed for sender %s", tracker.sender_id)
            storage_failure(dispatcher)
            return []
        if reply:
            dispatcher.utter_message(text=reply)
            return [SlotSet("verified_order", order_no)]
        failures += 1
        events: List[Dict] = [SlotSet("lookup_failures", float(failures)), SlotSet("order_id", None),
                              SlotSet("phone_tail", None), SlotSet("verified_order", None)]
        if failures >= settings.lookup_max_failures:
            return self._locked(dispatcher) + events
        left = settings.lookup_max_failures - failures
        dispatcher.utter_message(
            text=f"订单号和手机尾号对不上（或查不到这个订单），请核对后重新告诉我订单号，还可以再试 {left} 次。\n{FORMAT_HELP}")
        return events

    @staticmethod
    def _locked(dispatcher: CollectingDispatcher) -> List[Dict]:
        dispatcher.utter_message(
            text="为保护订单信息，这次对话里的订单查询已暂停。\n"
                 "- 您可以登录华为云控制台，进入“ICP备案”直接查看订单进度\n"
                 f"- 或拨打备案热线 {get_settings().hotline}")
        return []


class ActionLookupCancelled(Action):
    """"算了" ends the lookup; "我不知道订单号" also ends it, but with where to find the number."""

    def name(self) -> Text:
        return "action_lookup_cancelled"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict]:
        if _DONT_KNOW.search(normalize(tracker.latest_message.get("text"))):
            dispatcher.utter_message(text=WHERE_TO_FIND_ORDER_NO + "\n找到后再告诉我，我帮您查。")
        else:
            dispatcher.utter_message(response="utter_lookup_cancelled")
        return []
