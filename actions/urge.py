""""能加急吗 / 帮我催催": answered from the order's status, never with a ticket form by reflex.

Only a review that has run past its normal time is worth a ticket or a call; everything else gets
the honest answer: who can act (often nobody, or the user), and how long it normally takes.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.handoff import TICKET_BUTTON
from bot.clock import tracker_now, working_days_between
from bot.config import get_settings
from bot.storage import repository
from bot.storage.db import off_loop, session_scope
from bot.storage.models import CHINA_TZ

logger = logging.getLogger(__name__)

LOOKUP_BUTTON = {"title": "查订单进度", "payload": "/ask_order_status"}
# A review in progress: its normal length in working days, what to say within it, what past it.
# {waited} is "（已等N个工作日）", {hotline} the hotline.
REVIEWS = {
    "bureau_review": (20,
                      "您的订单正在管局审核{waited}。这个阶段由通信管理局审核，华为云和客服都没法加急或催审；"
                      "一般不超过20个工作日，结果会短信和邮件通知您。超过20个工作日还没结果，再来找我提工单。",
                      "您的订单在管局审核已超过通常的20个工作日{waited}。管局审核本身没法加急，但超时了可以让客服帮您"
                      "向管局了解情况：我可以帮您提交工单，或拨打备案热线 {hotline}。"),
    "provider_review": (2,
                        "您的订单在华为云初审{waited}，一般1-2个工作日内完成，期间审核员可能给负责人打电话核实，"
                        "请保持手机畅通。超过2个工作日还没结果，可以再来找我提工单。",
                        "华为云初审一般1-2个工作日，您的订单已超过这个时间{waited}。我可以帮您提交工单催一下，"
                        "或拨打备案热线 {hotline}。"),
}
# Everything else is not waiting on a review: say who acts.
NOT_IN_REVIEW = {
    "sms_verification": "现在等的是您这边：负责人需要完成工信部短信核验（收到 12381 短信后 24 小时内），"
                        "完成后就会报送管局审核。",
    "provider_rejected": "订单被初审退回了，需要您按审核意见修改后重新提交，提交后才会继续审核。",
    "bureau_rejected": "订单被管局驳回了，需要您按驳回原因修改后重新提交，重新走初审和管局审核。",
    "draft": "订单还没提交，审核还没开始。请在控制台“ICP备案”里补全信息并提交，提交后华为云初审一般1-2个工作日。",
    "approved": "您的备案已经通过了，不需要再等。记得把备案号挂到网站底部，并在网站开通 30日内办理公安联网备案。",
    "cancelled": "这个订单已经撤销，没有在审核中。需要备案的话请在控制台重新提交一个订单。",
}


def urge_reply(status: str, waited_days: Optional[int], hotline: str) -> tuple[str, bool]:
    """(what to say, whether a ticket would help) for an order in `status` that has waited
    `waited_days` working days in it."""
    if status not in REVIEWS:
        return NOT_IN_REVIEW.get(status, "这个订单目前不在审核中。"), False
    normal_days, within, overdue = REVIEWS[status]
    late = waited_days is not None and waited_days > normal_days
    waited = f"（已等{waited_days}个工作日）" if waited_days is not None else ""
    return (overdue if late else within).format(waited=waited, hotline=hotline), late


def general_reply() -> str:
    return ("审核时间一般是：华为云初审1-2个工作日，管局审核不超过20个工作日。管局阶段没有加急通道，谁都没法催审。\n"
            "告诉我订单号，我帮您看看是不是已经超过正常时间。")


def status_since(order_no: str) -> Tuple[Optional[str], Optional[datetime]]:
    """The order's status and since when it has had it (None, None for an unknown order)."""
    with session_scope() as session:
        order = repository.get_order(session, order_no)
        return (order.status, order.updated_at or order.submitted_at) if order else (None, None)


class ActionUrge(Action):
    def name(self) -> str:
        return "action_urge"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[str, Any]]:
        order_no = tracker.get_slot("verified_order")
        if not order_no:
            dispatcher.utter_message(text=general_reply(), buttons=[LOOKUP_BUTTON])
            return []
        try:
            status, since = await off_loop(status_since, order_no)
        except SQLAlchemyError:
            logger.exception("urge lookup failed for sender %s", tracker.sender_id)
            dispatcher.utter_message(text=general_reply())
            return []
        if status is None:
            dispatcher.utter_message(text=general_reply(), buttons=[LOOKUP_BUTTON])
            return []
        now = tracker_now(tracker)
        waited = working_days_between(since.astimezone(CHINA_TZ).date(), now.date()) if since else None
        text, ticket_helps = urge_reply(status, waited, get_settings().hotline)
        dispatcher.utter_message(text=text, buttons=[TICKET_BUTTON] if ticket_helps else [])
        return []
