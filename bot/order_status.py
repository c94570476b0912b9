"""What each filing-order status means for its owner: plain words, the usual wait, the next step.

One table so the assistant, the copilot and reports describe a status the same way.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StatusText:
    label: str
    meaning: str
    wait: str
    next_step: str


STATUS_TEXTS: dict[str, StatusText] = {
    "draft": StatusText(
        "待提交", "订单还没有提交，华为云这边还没开始审核。",
        "提交后华为云初审一般1-2个工作日。",
        "登录控制台“ICP备案”，补全信息、完成真实性核验后提交订单。"),
    "provider_review": StatusText(
        "华为云初审中", "华为云审核员正在核对您的资料，期间可能会给负责人打电话核实。",
        "初审一般1-2个工作日。",
        "保持负责人手机畅通，留意短信和邮件；需要修改时意见会发到备案系统注册邮箱。"),
    "provider_rejected": StatusText(
        "初审驳回/待修改", "初审发现资料需要修改，订单退回给您了。",
        "改好重新提交后，初审一般1-2个工作日。",
        "在备案系统打开订单，点“审核历史”查看意见，按原因修改后重新提交。"),
    "sms_verification": StatusText(
        "待工信部短信核验", "初审已通过，订单报送管局前需要负责人完成工信部短信核验。",
        "核验完成后进入管局审核，一般不超过20个工作日。",
        "负责人收到 12381 发来的验证码后，24小时内到工信部指定网站完成核验（需证件号、手机号和 6位验证码）。"),
    "bureau_review": StatusText(
        "管局审核中", "订单已在通信管理局审核，这个阶段不能撤销或修改，也没法催审。",
        "管局审核一般1-20个工作日，最长不超过20个工作日（不含周末和节假日）。",
        "不需要操作，耐心等待；结果会通过短信和邮件通知。"),
    "bureau_rejected": StatusText(
        "管局驳回", "管局审核没有通过，订单退回了。",
        "修改后需要重新走初审（1-2个工作日）和管局审核（不超过20个工作日）。",
        "按驳回原因修改资料后重新提交。"),
    "approved": StatusText(
        "备案成功", "备案已经通过，拿到了备案号。",
        "无需再等待。",
        "在网站首页底部挂上备案号并链接到 https://beian.miit.gov.cn ；网站开通 30日内还要办理公安联网备案。"),
    "cancelled": StatusText(
        "已撤销/已放弃", "这个订单已经撤销或放弃，不会再审核。",
        "无。",
        "如果还需要备案，请在控制台重新提交一个新订单。"),
}

WHERE_TO_FIND_ORDER_NO = (
    "订单号可以这样找：登录华为云控制台，进入“ICP备案”，在“我的订单”列表里就能看到；提交订单时的短信和邮件里也有。\n"
    "格式是 ICP + 8位日期 + 5位序号（如 ICP2026110400318），较早的订单是 日期-4位序号（如 20261104-2271）。"
)


def describe(order, *, with_reason: bool = True) -> str:
    """The owner-facing explanation of an order's status (call only after the identity check)."""
    text = STATUS_TEXTS[order.status]
    lines = [f"订单 {order.order_no} 当前状态：**{text.label}**", text.meaning]
    if order.status == "approved" and order.icp_number:
        lines.append(f"备案号：{order.icp_number}")
    if with_reason and order.status in ("provider_rejected", "bureau_rejected") and order.status_detail:
        lines.append(f"原因：{order.status_detail}")
    lines += [f"- 需要等多久：{text.wait}", f"- 您需要做的：{text.next_step}"]
    return "\n".join(lines)
