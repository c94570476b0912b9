"""What the WeChat channel's `_receive` reads, built for tests: a signed request and a text message."""
import time

from bot.channels.wechat import sign


class FakeRequest:
    """What `_receive` reads from a Sanic request (a non-streamed body), signed with `token`."""

    def __init__(self, body: bytes, token: str, **args):
        ts, nonce = str(int(time.time())), "n0nce"
        self.args = {"timestamp": ts, "nonce": nonce, "signature": sign(token, ts, nonce), **args}
        self.headers, self.stream, self.body = {}, None, body


def text_xml(content="你好", openid="oABC123_-xyz", msg_id="1001", msg_type="text") -> bytes:
    return (f"<xml><ToUserName><![CDATA[gh_bot]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>").encode()
