"""The WeChat bridge's pure parts: signatures, request checks, XML safety, formatting, configuration.
The retry ledger and the other state are in test_wechat_state.py, the API's retries in test_wechat_api.py."""
import time

import pytest
import xmltodict
from wechatpy.events import SubscribeEvent
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.messages import ImageMessage, TextMessage
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bot.channels.wechat import (
    MAX_BODY_BYTES, NON_TEXT_REPLY, OPTIONS_HEADER, Rejected,
    WeChatConfig, WeChatInput, cdata_safe, check_body, check_query, fits_passive, option_number, parse_wechat_message,
    parse_xml, render, sign, signature_ok, split_text, timestamp_fresh, to_plain,
)
from tests.channels.wechat_requests import FakeRequest, text_xml

TOKEN = "test-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


# --- signatures --------------------------------------------------------------------------------


def test_signature_is_wechatpys():
    ts, nonce = "1700000000", "n0nce"
    check_signature(TOKEN, sign(TOKEN, ts, nonce), ts, nonce)  # raises if ours differed
    assert signature_ok(TOKEN, sign(TOKEN, ts, nonce), ts, nonce)
    # sorted, so the order of the parts does not matter
    assert sign(TOKEN, ts, nonce) == sign(nonce, TOKEN, ts)


@pytest.mark.parametrize("signature, timestamp, nonce, token", [
    ("0" * 40, "1700000000", "n", TOKEN),           # forged
    (None, "1700000000", "n", TOKEN),               # missing
    ("签名", "1700000000", "n", TOKEN),              # not even hex
    ("SIG", None, "n", TOKEN),                      # no timestamp
    ("SIG", "1700000000", None, TOKEN),             # no nonce
])
def test_bad_signatures_are_refused(signature, timestamp, nonce, token):
    assert not signature_ok(token, signature, timestamp, nonce)


def test_another_token_does_not_verify():
    good = sign(TOKEN, "1700000000", "n")
    assert not signature_ok("other-token", good, "1700000000", "n")
    with pytest.raises(InvalidSignatureException):
        check_signature("other-token", good, "1700000000", "n")


def test_an_unset_token_verifies_nothing():
    """With no token anyone could compute sha1(sorted(timestamp, nonce)): refuse instead."""
    assert not signature_ok("", sign("", "1700000000", "n"), "1700000000", "n")


def test_msg_signature_covers_the_encrypted_body():
    sig = sign(TOKEN, "1700000000", "n", "ENCRYPTED")
    assert signature_ok(TOKEN, sig, "1700000000", "n", "ENCRYPTED")
    assert not signature_ok(TOKEN, sig, "1700000000", "n", "TAMPERED")


@pytest.mark.parametrize("delta, fresh", [(0, True), (-300, True), (300, True), (-301, False), (301, False),
                                          (-86400, False)])
def test_timestamp_window(delta, fresh):
    now = 1_700_000_000
    assert timestamp_fresh(str(now + delta), now) is fresh


@pytest.mark.parametrize("timestamp", ["", "abc", "-5", "1.5", "9" * 20, None])
def test_odd_timestamps_are_stale(timestamp):
    assert not timestamp_fresh(timestamp, time.time())


def test_check_query():
    now = time.time()
    ts = str(int(now))
    check_query(TOKEN, {"timestamp": ts, "nonce": "n", "signature": sign(TOKEN, ts, "n")}, now)
    with pytest.raises(Rejected) as forged:
        check_query(TOKEN, {"timestamp": ts, "nonce": "n", "signature": sign(TOKEN, ts, "x")}, now)
    old = str(int(now) - 301)
    with pytest.raises(Rejected) as stale:  # correctly signed, but replayed too late
        check_query(TOKEN, {"timestamp": old, "nonce": "n", "signature": sign(TOKEN, old, "n")}, now)
    assert forged.value.status == stale.value.status == 403
    assert "stale" in stale.value.reason


# --- body and XML -------------------------------------------------------------------------------


def test_size_cap():
    check_body(b"<xml>" + b" " * (MAX_BODY_BYTES - 11) + b"</xml>")  # exactly the cap
    with pytest.raises(Rejected) as e:
        check_body(b"<xml>" + b" " * MAX_BODY_BYTES + b"</xml>")
    assert e.value.status == 413


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>',
    b'<!doctype xml SYSTEM "file:///etc/passwd"><xml/>',
    b'<!DOCTYPE xml [<!ENTITY x SYSTEM "http://example.com/x">]><xml>&x;</xml>',
    b'<xml><!ENTITY lol "lol"></xml>',
    b'<!  DOCTYPE xml><xml/>',
])
def test_doctype_and_entity_declarations_are_refused(body):
    with pytest.raises(Rejected) as e:
        parse_xml(body)
    assert e.value.status == 400


def test_billion_laughs_is_refused_before_expansion():
    lol = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
           + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                      for i in range(1, 10))
           + b']><xml><Content>&lol9;</Content></xml>')
    with pytest.raises(Rejected):
        parse_xml(lol)


def test_entities_are_disabled_even_without_the_text_check():
    """The parser itself refuses entity declarations too (defence in depth)."""
    with pytest.raises(ValueError):
        xmltodict.parse(b'<!DOCTYPE x [<!ENTITY a "b">]><xml>&a;</xml>', disable_entities=True)


@pytest.mark.parametrize("body", [b"", b"   ", b"<xml><a></xml>", b"not xml", b"<xml>", b"<other/>",
                                  b"<xml>text only</xml>", b"\xff\xfe<xml/>"])
def test_malformed_xml_is_a_400(body):
    with pytest.raises(Rejected) as e:
        parse_wechat_message(body)
    assert e.value.status == 400


def test_message_parsing_uses_wechatpys_classes():
    msg = parse_wechat_message(text_xml("个人备案要准备什么材料"))
    assert isinstance(msg, TextMessage) and msg.content == "个人备案要准备什么材料" and msg.source == "oABC123_-xyz"
    image = parse_wechat_message(text_xml(msg_type="image"))
    assert isinstance(image, ImageMessage)
    event = parse_wechat_message(b"<xml><FromUserName>oUser</FromUserName><ToUserName>gh</ToUserName>"
                                 b"<CreateTime>1</CreateTime><MsgType>event</MsgType><Event>subscribe</Event></xml>")
    assert isinstance(event, SubscribeEvent)


@pytest.mark.parametrize("body", [
    text_xml(openid="../../etc"),
    text_xml(openid="x" * 65),
    b"<xml><FromUserName>oUser</FromUserName><Content>hi</Content></xml>",  # no MsgType
    b"<xml><MsgType>text</MsgType><Content>hi</Content></xml>",  # no sender
    b"<xml><FromUserName><a>1</a></FromUserName><MsgType>text</MsgType></xml>",  # sender not text
])
def test_messages_without_a_plausible_sender_or_type_are_refused(body):
    with pytest.raises(Rejected) as e:
        parse_wechat_message(body)
    assert e.value.status == 400


# --- formatting ---------------------------------------------------------------------------------


def test_bold_is_stripped():  # the renderer itself: tests/unit/test_render.py
    assert to_plain("要在**网站首页底部中间**展示，**30日内**提交") == "要在网站首页底部中间展示，30日内提交"
    assert to_plain("编号 BA_1，2*3=6") == "编号 BA_1，2*3=6"


def test_messages_join_and_buttons_become_numbered_options():
    rendered = render([
        {"recipient_id": "u", "text": "个人备案需要**身份证**：\n1. 登录控制台\n2. 上传证件\n- 原件拍照"},
        {"recipient_id": "u", "text": "还想了解：", "buttons": [
            {"title": "公司备案要什么材料", "payload": '/faq{"faq_topic": "materials_company"}'},
            {"title": "**找人工**", "payload": "/request_human"},
        ]},
    ])
    assert rendered.text == ("个人备案需要身份证：\n① 登录控制台\n② 上传证件\n• 原件拍照\n\n还想了解：\n\n"
                             + OPTIONS_HEADER + "\n【1】公司备案要什么材料\n【2】找人工")
    assert rendered.payloads == ['/faq{"faq_topic": "materials_company"}', "/request_human"]


def test_render_without_buttons_has_no_options():
    rendered = render([{"text": "好的"}, {"text": "  "}, {"image": "https://example.com/a.png"}])
    assert rendered.text == "好的\n\nhttps://example.com/a.png" and rendered.payloads == []


@pytest.mark.parametrize("text, number", [("1", 1), (" 2 ", 2), ("３", 3), ("1.", 1), ("10", 10), ("2、", 2),
                                          ("【2】", 2), ("[2]", 2), ("(3)", 3), ("（3）", 3), ("［1］", 1),
                                          ("1a", None), ("第1个", None), ("5678", None), ("", None),
                                          # circled digits are steps, never options
                                          ("②", None), ("⑵", None), ("⒉", None), ("❷", None), ("第2步", None),
                                          ("【2", None), ("2】", None)])
def test_option_numbers(text, number):
    assert option_number(text) == number


def test_split_keeps_short_text_whole():
    assert split_text("一行\n两行") == ["一行\n两行"]


def test_split_on_line_boundaries_within_limits():
    lines = [f"第{i}行：" + "备" * 50 for i in range(40)]  # ~2200 characters
    chunks = split_text("\n".join(lines))
    assert len(chunks) > 3
    assert all(len(c) <= 600 and len(c.encode()) <= 2048 for c in chunks)
    assert "\n".join(chunks) == "\n".join(lines)  # nothing lost, every cut at a line end
    assert all(line in lines for c in chunks for line in c.split("\n"))


def test_one_overlong_line_is_cut():
    chunks = split_text("案" * 1500)
    assert [len(c) for c in chunks] == [600, 600, 300]


def test_split_respects_bytes_too():
    chunks = split_text("😀" * 600)  # 4 bytes each
    assert all(len(c.encode()) <= 2048 for c in chunks) and "".join(chunks) == "😀" * 600


def test_passive_limit():
    assert fits_passive("备" * 682) and not fits_passive("备" * 683)


def test_cdata_safe_reply_round_trips():
    content = "a]]>b<c>&d"
    xml = TextReply(source="gh", target="oUser", content=cdata_safe(content)).render()
    assert xmltodict.parse(xml)["xml"]["Content"] == content


# --- configuration ------------------------------------------------------------------------------


def test_credentials_fall_back_to_the_environment():
    env = {"WECHAT_TOKEN": "t", "WECHAT_APP_ID": "wx1", "WECHAT_APP_SECRET": "s", "WECHAT_AES_KEY": AES_KEY,
           "WECHAT_API_BASE": "http://127.0.0.1:1"}
    config = WeChatConfig.from_credentials(None, env)
    assert (config.token, config.app_id, config.app_secret, config.aes_key, config.api_base) == (
        "t", "wx1", "s", AES_KEY, "http://127.0.0.1:1")
    assert config.passive_budget == 4.0 and config.accept_plaintext is False  # safe mode refuses plaintext
    override = WeChatConfig.from_credentials({"token": "t2", "passive_budget": 0.5, "accept_plaintext": True}, env)
    assert override.token == "t2" and override.passive_budget == 0.5 and override.accept_plaintext
    plain = WeChatConfig.from_credentials({"token": "t"}, {})
    assert plain.api_base == "https://api.weixin.qq.com" and plain.accept_plaintext and not plain.aes_key


@pytest.mark.parametrize("credentials", [{"aes_key": "short", "app_id": "wx"}, {"aes_key": AES_KEY},
                                         {"passive_budget": 6}, {"passive_budget": 0}])
def test_bad_configuration_fails_at_startup(credentials):
    with pytest.raises(ValueError):
        WeChatConfig.from_credentials(credentials, {})


def test_redis_is_chosen_by_redis_url_without_connecting():
    """REDIS_URL (or `redis_url`) selects the shared state; nothing connects before the first request."""
    from bot.channels.wechat_redis import RedisTokenCache, RedisTurnLedger

    env = {"WECHAT_TOKEN": "t", "WECHAT_APP_ID": "wx1", "REDIS_URL": "redis://127.0.0.1:1/0"}
    channel = WeChatInput(WeChatConfig.from_credentials(None, env))  # port 1: nothing listens there
    assert isinstance(channel.ledger, RedisTurnLedger) and isinstance(channel.api.tokens, RedisTokenCache)
    assert channel.ledger.redis._client is None and channel.ledger.redis.prefix == "beian:wechat:"
    assert channel.ledger.redis is channel.options.redis is channel.api.tokens.redis
    assert channel.api.tokens.key == "beian:wechat:token:wx1"
    creds = WeChatConfig.from_credentials({"redis_url": "redis://h:6379/2", "redis_prefix": "x:"}, env)
    assert (creds.redis_url, creds.redis_prefix) == ("redis://h:6379/2", "x:")
    memory = WeChatInput(WeChatConfig.from_credentials({"token": "t"}, {}))
    assert not memory.ledger.shared and memory.config.redis_url == ""


def test_channel_identity():
    channel = WeChatInput.from_credentials({"token": "t"})
    assert channel.name() == "wechat" and channel.url_prefix() == "wechat"
    assert NON_TEXT_REPLY == "目前只能处理文字消息，请直接输入您的问题"


# --- the request path in-process, with a stand-in for Rasa --------------------------------------




def fake_rasa(seen):
    async def handle(message):
        seen.append(message.text)
        await message.output_channel.send_text_with_buttons(
            message.sender_id,
            f"收到：{message.text}", [{"title": "找人工", "payload": "/request_human"}])
    return handle


async def test_safe_mode_refuses_plaintext_unless_allowed():
    strict = WeChatInput.from_credentials({"token": TOKEN, "app_id": "wx1", "aes_key": AES_KEY})
    with pytest.raises(Rejected) as e:
        await strict._receive(FakeRequest(text_xml(), TOKEN), fake_rasa([]))
    assert e.value.status == 403


async def test_encrypted_request_without_a_configured_key_is_a_400():
    plain = WeChatInput.from_credentials({"token": TOKEN})
    with pytest.raises(Rejected) as e:
        await plain._receive(FakeRequest(b"<xml><Encrypt>x</Encrypt></xml>", TOKEN, encrypt_type="aes",
                                         msg_signature="0" * 40), fake_rasa([]))
    assert e.value.status == 400


async def test_without_a_token_nothing_is_accepted():
    channel = WeChatInput(WeChatConfig())
    with pytest.raises(Rejected) as e:
        await channel._receive(FakeRequest(text_xml(), token=""), fake_rasa([]))
    assert e.value.status == 403


async def test_number_answers_a_button_and_logged_text_is_masked(caplog):
    channel = WeChatInput.from_credentials({"token": TOKEN})
    seen = []
    caplog.set_level("INFO", logger="bot.channels.wechat")
    r = await channel._receive(FakeRequest(text_xml("我的手机 13812345678", msg_id="1"), TOKEN), fake_rasa(seen))
    content = xmltodict.parse(r.body)["xml"]["Content"]
    assert content == "收到：我的手机 13812345678\n\n" + OPTIONS_HEADER + "\n【1】找人工"
    assert "13812345678" not in caplog.text and "138****5678" in caplog.text
    await channel._receive(FakeRequest(text_xml("1", msg_id="2"), TOKEN), fake_rasa(seen))
    await channel._receive(FakeRequest(text_xml("2", msg_id="3"), TOKEN), fake_rasa(seen))  # no option 2
    assert seen == ["我的手机 13812345678", "/request_human", "2"]


async def test_non_text_messages_get_the_polite_reply_without_rasa():
    channel = WeChatInput.from_credentials({"token": TOKEN})
    seen = []
    r = await channel._receive(FakeRequest(text_xml(msg_type="location"), TOKEN), fake_rasa(seen))
    assert xmltodict.parse(r.body)["xml"]["Content"] == NON_TEXT_REPLY and seen == []


def test_the_credentials_entry_loads_through_rasa(tmp_path, monkeypatch):
    """The credentials.yml entry has no keys: everything comes from the environment."""
    from rasa.core.run import create_http_input_channels

    monkeypatch.setenv("WECHAT_TOKEN", "from-env")
    creds = tmp_path / "credentials.yml"
    creds.write_text("bot.channels.wechat.WeChatInput:\n")
    [channel] = create_http_input_channels(None, str(creds))
    assert isinstance(channel, WeChatInput) and channel.config.token == "from-env"


async def test_redis_down_gets_the_honest_reply_not_a_500():
    import socket

    with socket.socket() as s:  # a port where nothing listens: Redis is "down"
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    channel = WeChatInput.from_credentials({"token": TOKEN, "redis_url": f"redis://127.0.0.1:{dead}/0"})
    seen = []
    r = await channel._receive(FakeRequest(text_xml("管局审核要多久", msg_id="42"), TOKEN), fake_rasa(seen))
    content = xmltodict.parse(r.body)["xml"]["Content"]
    assert r.status == 200 and "热线" in content and seen == []
