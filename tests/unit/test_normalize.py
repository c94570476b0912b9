from hypothesis import given, settings, strategies as st

from bot.nlu.normalize import MAX_CHARS, normalize


def test_full_width_and_traditional_become_canonical():
    assert normalize("ＩＣＰ個人備案要準備什麼材料？") == "ICP个人备案要准备什么材料?"


def test_emoji_controls_and_zero_width_are_removed():
    assert normalize("备\u200b案 😀😀  多久\x00\n\t") == "备案 多久"


def test_length_is_capped():
    assert len(normalize("备" * 20_000)) == MAX_CHARS


def test_non_strings_and_surrogates_do_not_raise():
    assert normalize(None) == ""
    assert normalize(12) == "12"
    assert normalize("\ud800备案") == "备案"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_total_and_idempotent(text):
    once = normalize(text)
    assert isinstance(once, str) and len(once) <= MAX_CHARS
    assert normalize(once) == once
