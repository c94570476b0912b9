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


async def test_a_turn_that_says_nothing_gets_the_honest_failure_reply():
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    from bot.channels.rest import never_silent

    async def crashes(message):
        raise RuntimeError("action server unreachable")

    async def answers(message):
        await message.output_channel.send_text_message(message.sender_id, "您好")

    out = CollectingOutputChannel()
    with pytest.raises(RuntimeError):
        await never_silent(crashes)(UserMessage("hi", out, "u1"))
    assert "4000-955-988" in out.messages[0]["text"]
    out = CollectingOutputChannel()
    await never_silent(answers)(UserMessage("hi", out, "u1"))
    assert [m["text"] for m in out.messages] == ["您好"]
