"""WeChat users get plain text, and steps cannot be mistaken for the numbered options: the channel
in-process with a stand-in for Rasa, answering passively and through the customer-service API of the
fake WeChat (conftest.py) on 127.0.0.1."""
from __future__ import annotations

import asyncio
import time

import pytest
import xmltodict

from bot.channels.render import to_plain
from bot.channels.wechat import OPTIONS_HEADER, WeChatApi, WeChatConfig, WeChatInput
from tests.channels.wechat_requests import FakeRequest, text_xml

APP_ID, APP_SECRET, TOKEN = "wx0123456789abcdef", "e2e-secret", "render-token"

ANSWER = ("备案分**三步**：\n"
          "1. 登录[控制台](https://console.example.com/beian_home)，填写**主体信息**\n"
          "2. 上传材料：\n"
          "   - 身份证正反面\n"
          "   - 网站负责人照片\n"
          "3. 等待管局审核（约 20 个工作日）\n\n"
          "详见 https://beian.miit.gov.cn 。")
PLAIN = ("备案分三步：\n"
         "① 登录控制台 https://console.example.com/beian_home ，填写主体信息\n"
         "② 上传材料：\n"
         "  ◦ 身份证正反面\n"
         "  ◦ 网站负责人照片\n"
         "③ 等待管局审核（约 20 个工作日）\n\n"
         "详见 https://beian.miit.gov.cn 。")
BUTTONS = [{"title": "**公司**备案要什么材料", "payload": '/faq{"faq_topic": "materials_company"}'},
           {"title": "审核要多久", "payload": '/faq{"faq_topic": "review_time"}'},
           {"title": "找人工", "payload": "/request_human"}]






def stand_in_rasa(seen: list, delay: float = 0.0):
    """Answers every message with the stepped answer and three buttons; records what reached it."""
    async def handle(message):
        seen.append(message.text)
        await asyncio.sleep(delay)
        await message.output_channel.send_text_with_buttons(message.sender_id, ANSWER, BUTTONS)
    return handle


def content(response) -> str:
    return xmltodict.parse(response.body)["xml"]["Content"]


def test_the_stepped_answer_renders_as_expected():
    assert to_plain(ANSWER) == PLAIN


def expected_reply() -> str:
    return PLAIN + "\n\n" + OPTIONS_HEADER + "\n【1】公司备案要什么材料\n【2】审核要多久\n【3】找人工"


async def test_passive_answer_is_plain_text_and_a_typed_number_picks_the_option():
    channel = WeChatInput.from_credentials({"token": TOKEN})
    seen: list = []
    reply = content(await channel._receive(FakeRequest(text_xml("怎么备案", "oRender1", "1"), TOKEN), stand_in_rasa(seen)))
    assert reply == expected_reply()
    assert "**" not in reply and "\n- " not in reply and "\n1. " not in reply and "](" not in reply
    # "2" and its other spellings pick option 2; "②" is step 2, so it reaches Rasa as typed
    for n, typed in enumerate(["2", "【2】", "２", "②", "3."], start=2):
        await channel._receive(FakeRequest(text_xml(typed, "oRender1", str(n)), TOKEN), stand_in_rasa(seen))
    assert seen == ["怎么备案", '/faq{"faq_topic": "review_time"}', '/faq{"faq_topic": "review_time"}',
                    '/faq{"faq_topic": "review_time"}', "②", "/request_human"]


async def test_a_number_past_the_options_is_just_text():
    channel = WeChatInput.from_credentials({"token": TOKEN})
    seen: list = []
    await channel._receive(FakeRequest(text_xml("怎么备案", "oRender2", "1"), TOKEN), stand_in_rasa(seen))
    await channel._receive(FakeRequest(text_xml("4", "oRender2", "2"), TOKEN), stand_in_rasa(seen))
    assert seen == ["怎么备案", "4"]


@pytest.fixture
async def slow_channel(fake_wechat):
    """Every answer misses the passive budget and goes through the fake customer-service API."""
    config = WeChatConfig.from_credentials({"token": TOKEN, "app_id": APP_ID, "app_secret": APP_SECRET,
                                            "api_base": fake_wechat.base, "passive_budget": 0.001}, {})
    return WeChatInput(config, api=WeChatApi(fake_wechat.base, APP_ID, APP_SECRET, retry_delays=(0.05,)))


async def settle(channel: WeChatInput, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while channel._tasks and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


async def test_an_answer_through_the_customer_service_api_is_plain_text_and_options_still_work(
        slow_channel, fake_wechat):
    seen: list = []
    r = await slow_channel._receive(FakeRequest(text_xml("怎么备案", "oRender3", "1"), TOKEN), stand_in_rasa(seen, 0.05))
    assert r.body == b"success"
    await settle(slow_channel)
    [sent] = fake_wechat.sent_to("oRender3")
    assert sent["body"]["msgtype"] == "text" and sent["body"]["text"]["content"] == expected_reply()
    # the options were remembered for this user: "1" picks the first button's payload
    assert (await slow_channel._receive(FakeRequest(text_xml("1", "oRender3", "2"), TOKEN),
                                        stand_in_rasa(seen, 0.05))).body == b"success"
    await settle(slow_channel)
    assert seen == ["怎么备案", '/faq{"faq_topic": "materials_company"}']
    assert len(fake_wechat.sent_to("oRender3")) == 2
