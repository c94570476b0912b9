"""Order lookups, hand-over and tickets through REST, with the action server and a real database."""
import uuid

import pytest
from sqlalchemy import select

from bot.storage.db import session_scope
from bot.storage.models import Ticket

pytestmark = pytest.mark.e2e


def new_sender(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def tickets_of(engine, sender):
    with session_scope(engine) as session:
        return session.execute(select(Ticket).where(Ticket.sender_id == sender)).scalars().all()


def test_number_up_front_then_digits(assistant):
    s = new_sender("up-front")
    assert "后 4 位" in assistant.text("帮我查下订单ICP2026112700087的进度", s)
    reply = assistant.text("2222", s)
    assert "华为云初审中" in reply and "1-2" in reply


def test_number_after_the_prompt(assistant):
    s = new_sender("prompt")
    assert "订单号" in assistant.text("查一下我的备案进度", s)
    assert "后 4 位" in assistant.text("ICP2026111600733", s)
    reply = assistant.text("6666", s)
    assert "管局审核中" in reply and "20" in reply


def test_number_and_digits_in_one_message_with_the_rejection_reason(assistant):
    reply = assistant.text("订单号 20261118-3306 手机尾号4444 帮我看看", new_sender("one"))
    assert "初审驳回" in reply and "身份证反面照片模糊" in reply and "审核历史" in reply


def test_malformed_number_is_caught_at_once(assistant):
    s = new_sender("malformed")
    reply = assistant.text("帮我查订单 ICP20261104003", s)
    assert "不是有效的订单号" in reply and "ICP2026110400318" in reply
    assert "华为云初审中" in assistant.text("ICP2026112700087 尾号2222", s)


def test_unknown_number_and_wrong_digits_get_the_same_answer(assistant):
    unknown = assistant.text("订单ICP2026010100001 手机尾号1234", new_sender("unknown"))
    wrong = assistant.text("订单ICP2026112700087 手机尾号1234", new_sender("wrong"))
    assert unknown == wrong
    assert "对不上" in unknown and "苏州" not in wrong


def test_three_failures_stop_the_lookup(assistant):
    s = new_sender("lockout")
    assistant.text("订单ICP2026112700087 尾号0001", s)
    assistant.text("订单ICP2026112700087 尾号0002", s)
    locked = assistant.text("订单ICP2026112700087 尾号0003", s)
    assert "暂停" in locked and "4000-955-988" in locked
    again = assistant.text("订单ICP2026112700087 尾号2222", s)
    assert "暂停" in again and "华为云初审中" not in again


def test_faq_inside_the_lookup_then_it_resumes(assistant):
    s = new_sender("faq-inside")
    assistant.text("帮我查一下我的备案订单到哪一步了", s)
    reply = assistant.text("管局审核一般要多久", s)
    assert "20" in reply and "订单号" in reply
    assert "后 4 位" in assistant.text("ICP2026111600733", s)


def test_cancel_the_lookup(assistant):
    s = new_sender("cancel")
    assistant.text("查一下我的备案订单", s)
    assert "已取消订单查询" in assistant.text("算了", s)
    assert "备案助手" in assistant.text("你好", s)


def test_human_in_the_middle_of_a_lookup(assistant):
    s = new_sender("human")
    assistant.text("帮我查订单ICP2026112700087", s)
    reply = assistant.text("转人工", s)
    assert "4000-955-988转5" in reply and "950808转5" in reply
    assert "备案助手" in assistant.text("你好", s)


def test_follow_up_about_the_same_order(assistant):
    s = new_sender("follow")
    assistant.text("订单ICP2026110900462 尾号8888", s)
    reply = assistant.text("这个状态需要我做什么", s)
    assert "管局驳回" in reply and "通信地址" in reply


@pytest.mark.parametrize("contact, stored", [("138 1234 5678", "13812345678"), ("Me@Example.com", "me@example.com")])
def test_ticket_is_created_once(assistant, app_db, contact, stored):
    s = new_sender("ticket")
    assert "描述" in assistant.text("帮我提个工单", s)
    assert "联系方式" in assistant.text("备案一直被驳回，想请人工看看具体原因", s)
    summary = assistant.text(contact, s)
    assert "确认" in summary and stored in summary
    created = assistant.text("确认", s)
    assert "工单已提交" in created
    [ticket] = tickets_of(app_db[1], s)
    assert ticket.ticket_no in created and ticket.contact == stored
    assert any("驳回" in line["text"] for line in ticket.transcript)
    assistant.text("确认", s)  # a repeated confirmation
    assert len(tickets_of(app_db[1], s)) == 1


def test_invalid_contact_is_asked_again(assistant):
    s = new_sender("contact")
    assistant.text("我要提交工单", s)
    assistant.text("管局审核超过二十个工作日了还没结果", s)
    assert "手机号" in assistant.text("12345", s)


def test_switching_from_lookup_to_ticket_keeps_the_order(assistant, app_db):
    s = new_sender("switch")
    assistant.text("查订单ICP2026110900462", s)
    assistant.text("我要提工单", s)
    assistant.text("驳回原因看不懂，想让人帮忙看看", s)
    summary = assistant.text("13812345678", s)
    assert "ICP2026110900462" in summary
    assistant.text("确认", s)
    [ticket] = tickets_of(app_db[1], s)
    assert ticket.order_no == "ICP2026110900462"


def test_cancelled_ticket_creates_nothing(assistant, app_db):
    s = new_sender("no-ticket")
    assistant.text("帮我开个工单", s)
    assistant.text("想咨询一下变更备案的问题", s)
    assistant.text("13812345678", s)
    assert "没有创建工单" in assistant.text("取消", s)
    assert tickets_of(app_db[1], s) == []


def test_logs_carry_no_phone_number_or_email(assistant):
    from bot.config import ROOT

    s = new_sender("privacy")
    assistant.text("订单号 ICP2026112700087 手机号 13987654321", s)
    assistant.text("帮我提个工单", s)
    assistant.text("短信核验一直收不到验证码", s)
    assistant.text("Secret.Person@example.org", s)
    assistant.text("确认", s)
    logs = "".join(p.read_text(encoding="utf-8", errors="replace") for p in (ROOT / "artifacts" / "e2e").glob("*.log"))
    assert "13987654321" not in logs and "secret.person@example.org" not in logs.lower()


@pytest.mark.parametrize("text", ["我不知道订单号", "订单号在哪里看"])
def test_someone_without_the_number_is_told_where_to_find_it(assistant, text):
    s = new_sender("no-number")
    assistant.text("帮我查一下我的备案订单到哪一步了", s)
    assert "我的订单" in assistant.text(text, s)


def test_faq_inside_the_ticket_form_then_it_resumes(assistant, app_db):
    s = new_sender("ticket-faq")
    assistant.text("帮我提个工单", s)
    assistant.text("初审被驳回两次了，想让人看看", s)
    reply = assistant.text("管局审核一般要几个工作日", s)
    assert "20" in reply and "联系方式" in reply
    assert "确认" in assistant.text("13812345678", s)
    assistant.text("确认", s)
    assert len(tickets_of(app_db[1], s)) == 1
