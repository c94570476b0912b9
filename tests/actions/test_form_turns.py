"""The form layer on real validation actions: one move per message, one prompt per reply."""
import asyncio

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.form_moves import MOVE, NOTE
from actions.orders import ValidateOrderStatusForm
from actions.tickets import AskTicketConfirmed, ValidateTicketForm

DOMAIN = {"forms": {"ticket_form": {"required_slots": ["ticket_key", "ticket_topic", "ticket_description",
                                                       "ticket_contact", "ticket_confirmed"]},
                    "order_status_form": {"required_slots": ["order_id", "phone_tail"]}}}


def in_form(form, requested, text, intent="nlu_fallback", entities=(), confidence=0.9, **slots):
    latest = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": list(entities)}
    return Tracker.from_dict({
        "sender_id": "form-user", "slots": {"requested_slot": requested, **slots}, "latest_message": latest,
        "events": [{"event": "user", "text": text, "parse_data": latest}], "paused": False,
        "followup_action": None, "active_loop": {"name": form}, "latest_action_name": "action_listen"})


def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, DOMAIN))
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    return dispatcher.messages, events, slots


def test_a_contact_inside_a_sentence_fills_the_slot_without_a_complaint():
    tracker = in_form("ticket_form", "ticket_contact", "我手机是 138 0013 8000", intent="inform",
                      entities=[{"entity": "phone", "value": "13800138000"}], ticket_description="初审驳回三次")
    messages, _, slots = run(ValidateTicketForm(), tracker)
    assert slots["ticket_contact"] == "13800138000" and slots[MOVE] == "value"
    assert messages == [] and not slots.get(NOTE)


def test_a_bad_contact_words_the_next_prompt_instead_of_adding_one():
    tracker = in_form("ticket_form", "ticket_contact", "1381234", ticket_description="初审驳回三次")
    messages, _, slots = run(ValidateTicketForm(), tracker)
    assert messages == [] and slots.get("ticket_contact") is None and "手机号" in slots[NOTE]


def test_refusing_the_phone_asks_for_an_e_mail_and_refusing_again_ends_the_form():
    first = in_form("ticket_form", "ticket_contact", "不方便留电话", intent="deny")
    messages, events, slots = run(ValidateTicketForm(), first)
    assert messages == [] and "邮箱" in slots[NOTE] and slots[MOVE] == "refuse"
    again = in_form("ticket_form", "ticket_contact", "邮箱也不想给", intent="deny", form_move="refuse")
    messages, events, slots = run(ValidateTicketForm(), again)
    assert "热线" in messages[0]["text"] and {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in events]


def test_leaving_ends_the_form_clears_the_draft_and_listens():
    tracker = in_form("ticket_form", "ticket_confirmed", "算了", intent="deny", ticket_contact="13800138000")
    messages, events, slots = run(ValidateTicketForm(), tracker)
    assert messages[0]["response"] == "utter_ticket_cancelled"
    assert slots["ticket_contact"] is None and slots["requested_slot"] is None
    assert {"event": "followup", "name": "action_listen"} in [{k: e.get(k) for k in ("event", "name")} for e in events]


def test_a_correction_at_the_summary_replaces_the_contact_and_asks_to_confirm_again():
    tracker = in_form("ticket_form", "ticket_confirmed", "电话写错了，是13911112222", intent="inform",
                      entities=[{"entity": "phone", "value": "13911112222"}], ticket_contact="13800138000",
                      ticket_description="初审驳回三次", ticket_topic="备案咨询", ticket_key="k")
    _, _, slots = run(ValidateTicketForm(), tracker)
    assert slots["ticket_contact"] == "13911112222" and slots[MOVE] == "correction"
    assert slots.get("ticket_confirmed") is None


def test_an_faq_question_steps_aside_for_its_rule():
    tracker = in_form("order_status_form", "phone_tail", "对了，短信验证码一直没收到怎么办", intent="faq")
    assert run(ValidateOrderStatusForm(), tracker)[1] == []


def test_forgetting_the_phone_ends_the_lookup_without_revealing_anything():
    tracker = in_form("order_status_form", "phone_tail", "预留的手机号我忘了", intent="faq", confidence=0.4,
                      order_id="ICP2026111600733")
    messages, _, slots = run(ValidateOrderStatusForm(), tracker)
    assert "控制台" in messages[0]["text"] and "管局" not in messages[0]["text"]
    assert slots["requested_slot"] is None and "order_id" not in slots  # kept for when the digits turn up


def test_the_summary_names_no_internal_label():
    tracker = in_form("ticket_form", "ticket_confirmed", "", ticket_topic="备案咨询", ticket_description="驳回了",
                      ticket_contact="a@b.cn", ticket_type="complaint")
    dispatcher = CollectingDispatcher()
    AskTicketConfirmed().run(dispatcher, tracker, DOMAIN)
    text = dispatcher.messages[0]["text"]
    assert "关于" not in text and "备案咨询" not in text and "投诉工单" in text and "a@b.cn" in text


def test_the_problem_stated_in_the_request_is_the_description():
    tracker = in_form("ticket_form", None, "你好，我想提个工单，备案幕布照片传了三次都说不合格", intent="create_ticket")
    _, _, slots = run(ValidateTicketForm(), tracker)
    assert "幕布照片" in slots["ticket_description"]
    bare = in_form("ticket_form", None, "我要开个工单", intent="create_ticket")
    _, _, slots = run(ValidateTicketForm(), bare)
    assert not slots.get("ticket_description")


def test_an_e_mail_given_while_asked_to_describe_is_the_contact_not_the_description():
    tracker = in_form("ticket_form", "ticket_description", "那留邮箱吧 zhang_san@qq.com", intent="inform",
                      entities=[{"entity": "email", "value": "zhang_san@qq.com"}])
    _, _, slots = run(ValidateTicketForm(), tracker)
    assert slots["ticket_contact"] == "zhang_san@qq.com" and not slots.get("ticket_description")


def test_more_anger_inside_the_complaint_ticket_is_noted_not_apologised_for_again():
    from actions.complaint import ActionComplaint

    tracker = in_form("ticket_form", "ticket_contact", "都半个月了还在初审，没人理我", intent="complain",
                      ticket_type="complaint", ticket_description="审核太慢了")
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionComplaint().run(dispatcher, tracker, DOMAIN))
    assert len(dispatcher.messages) == 1 and "抱歉" not in dispatcher.messages[0]["text"]
    description = next(e["value"] for e in events if e.get("name") == "ticket_description")
    assert description.startswith("审核太慢了") and "半个月" in description
