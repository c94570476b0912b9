"""What a message inside a form does: the one classification every form acts on."""
import pytest

from actions.form_moves import Move, classify

ELSEWHERE = frozenset({"faq", "request_human", "complain", "thanks", "greet"})


def move(text, intent="nlu_fallback", has_value=False, free_text=False, confident=True):
    return classify(text, intent, has_value=has_value, free_text=free_text, elsewhere=ELSEWHERE, confident=confident)


@pytest.mark.parametrize("text, intent", [
    ("算了", "deny"), ("先不查了", "faq"), ("不用了", "deny"), ("不弄了 太麻烦", "nlu_fallback"),
    ("好的再见", "goodbye"), ("哦我看到了 是我自己少填了一位 不用了", "faq"), ("不", "deny"),
])
def test_leaving(text, intent):
    assert move(text, intent) is Move.LEAVE


@pytest.mark.parametrize("text", ["不方便留电话", "手机号不想给你们", "凭什么要告诉你尾号"])
def test_refusing(text):
    assert move(text, "deny") is Move.REFUSE


@pytest.mark.parametrize("text", ["预留的手机号我忘了", "订单号在哪看啊", "单号不记得了", "不知道"])
def test_not_knowing(text):
    assert move(text, "faq", confident=False) is Move.DONT_KNOW


def test_a_value_wins_and_a_correction_is_named():
    assert move("我手机是 138 0013 8000", "faq", has_value=True) is Move.VALUE
    assert move("电话写错了，是13911112222", "deny", has_value=True) is Move.CORRECTION
    assert move("不对 号码写错了", "deny") is Move.CORRECTION  # corrects, does not cancel


def test_a_real_question_or_a_person_goes_to_its_own_flow():
    assert move("对了，短信验证码一直没收到怎么办", "faq") is Move.ELSEWHERE
    assert move("转人工", "request_human") is Move.ELSEWHERE
    assert move("我要投诉", "complain", free_text=True) is Move.ELSEWHERE
    assert move("谢谢", "thanks") is Move.ELSEWHERE


def test_free_text_takes_anything_but_leaving():
    assert move("我忘了密码 登不上控制台 取消接入后也进不去", "faq", free_text=True) is Move.VALUE
    assert move("算了", "deny", free_text=True) is Move.LEAVE


def test_unsure_messages_are_unclear_not_a_menu():
    assert move("嗯嗯", "affirm") is Move.UNCLEAR
    assert move("那个啥", "faq", confident=False) is Move.UNCLEAR


def test_a_cross_refusal_is_a_refusal_and_a_complaint_word_a_complaint():
    assert move("不想给手机尾号，你直接告诉我结果就行", "complain") is Move.REFUSE
    assert move("投诉！凭什么要我手机号", "complain") is Move.ELSEWHERE


@pytest.mark.parametrize("intent", ["goodbye", "deny"])
def test_digits_typed_wrong_are_not_leaving(intent):
    assert move("1380013800", intent) is Move.UNCLEAR
