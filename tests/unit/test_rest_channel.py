import pytest

from bot.channels.rest import MAX_MESSAGE_CHARS, request_problem


@pytest.mark.parametrize(
    "body",
    [{"sender": "u1", "message": "你好"}, {"message": ""}, {"sender": "u", "message": "x", "metadata": {"a": 1}}],
)
def test_acceptable_bodies(body):
    assert request_problem(body) is None


@pytest.mark.parametrize(
    "body",
    [[], "text", None, 5, {"sender": "x"}, {"message": 5}, {"message": ["a"]}, {"message": "a", "sender": []},
     {"message": "a", "sender": ""}, {"message": "a", "sender": "s" * 129}, {"message": "a", "metadata": "m"},
     {"message": "x" * (MAX_MESSAGE_CHARS + 1)}],
)
def test_rejected_bodies_say_why(body):
    assert isinstance(request_problem(body), str)
