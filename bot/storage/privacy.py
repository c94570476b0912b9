"""Masking of phone numbers, e-mail addresses (and, for reports, order numbers) before they are shown."""
from __future__ import annotations

import re

from bot.nlu.patterns import MOBILE, ORDER_ID, PHONE

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_MASKED = "***"


def mask_phone(value: str) -> str:
    """'13812345678' (also '+86 138-1234-5678') -> '138****5678': enough to tell numbers apart in
    a log, not enough to call anyone. Anything that is not a mainland mobile is masked whole."""
    digits = re.sub(r"\D", "", value or "")
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if not MOBILE.fullmatch(digits):
        return _MASKED
    return f"{digits[:3]}****{digits[-4:]}"


def mask_email(value: str) -> str:
    """'alice@example.com' -> 'a***@example.com' (the domain stays: it helps triage)."""
    local, _, domain = (value or "").strip().rpartition("@")
    if not local or not domain:
        return _MASKED
    return f"{local[0]}***@{domain}"


def mask_contact(value: str) -> str:
    """A ticket contact is either an e-mail address or a phone number."""
    return mask_email(value) if "@" in (value or "") else mask_phone(value)


def mask_order(value: str) -> str:
    """'ICP2026110400318' -> 'ICP****18': an order number and its phone digits unlock a status."""
    value = (value or "").strip()
    return f"{value[:3]}****{value[-2:]}" if len(value) > 8 else _MASKED


def mask_text(text: str, orders: bool = False) -> str:
    """Every phone number and e-mail address inside free text (a user message) masked; with
    `orders`, order numbers too (reports show text to more people than a log does)."""
    text = EMAIL.sub(lambda m: mask_email(m.group()), text)
    if orders:
        text = ORDER_ID.sub(lambda m: mask_order(m.group()), text)
    return PHONE.sub(lambda m: mask_phone(m.group()), text)
