"""Phone numbers and e-mail addresses are masked before they reach a log."""
import pytest

from bot.storage.privacy import mask_contact, mask_email, mask_phone, mask_text


@pytest.mark.parametrize("raw", ["13812345678", "+86 138-1234-5678", "8613812345678", " 138 1234 5678 "])
def test_mask_phone(raw):
    assert mask_phone(raw) == "138****5678"


@pytest.mark.parametrize("raw", ["", "12345", "23812345678", "ICP2026110400318"])
def test_anything_not_a_mobile_is_masked_whole(raw):
    assert mask_phone(raw) == "***"


@pytest.mark.parametrize("raw, masked", [("alice@example.com", "a***@example.com"),
                                         ("a@qq.com", "a***@qq.com"),
                                         ("zhang.san+ba@corp.example.cn", "z***@corp.example.cn"),
                                         ("not-an-email", "***"), ("@example.com", "***")])
def test_mask_email(raw, masked):
    assert mask_email(raw) == masked


def test_mask_contact_and_free_text():
    assert mask_contact("alice@example.com") == "a***@example.com"
    assert mask_contact("13812345678") == "138****5678"
    text = "电话13812345678，或 +86 139-0000-1111，邮箱 alice@example.com；订单 ICP2026110400318"
    assert mask_text(text) == "电话138****5678，或 139****1111，邮箱 a***@example.com；订单 ICP2026110400318"
