"""Bad input for the abuse tests (tests/e2e/test_abuse.py): hypothesis strategies and fixed lists.

Everything here is pure: strings, bytes and request parts, no I/O. The phone numbers and e-mail
addresses put into messages are recorded in `SENT_PHONES` / `SENT_EMAILS` as they are drawn, so the
test can look for them in the server logs afterwards.
"""
from __future__ import annotations

import hashlib
import json
import time

from hypothesis import strategies as st

# --- what people (and attackers) type -------------------------------------------------------------

HTML = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(document.cookie)</script>",
    "<svg/onload=alert(1)>",
    "javascript:alert(1)",
    "\"><iframe src=//evil.example>",
    "{{7*7}}${7*7}<%= 7*7 %>",
    "]]><xml>injected</xml>",
    "<![CDATA[x]]>",
]
SQL = [
    "'; DROP TABLE filing_orders;--",
    "'; DROP TABLE orders;--",
    "1 OR 1=1",
    "' OR '1'='1",
    "ICP2026112600412' OR 1=1 --",
    "20261110-1185; DELETE FROM tickets",
    "'; UPDATE filing_orders SET status='approved';--",
    "\" UNION SELECT phone FROM filing_orders --",
]
CONTROL = ["\x00", "\x00\x01\x02\x03", "\x1b[31mred\x1b[0m", "\r\n\r\nHTTP/1.1 200 OK\r\n", "\u202e\u2066evil",
           "\u200b\u200c\u200d\ufeff", "\x7f\x85\u2028\u2029", "\t\v\f"]
EMOJI = ["😀😀😀", "👨‍👩‍👧‍👦", "🏳️‍🌈🇨🇳", "备案😡😡了吗？？", "𠀀𠀁𠀂𪚥", "Z̸̢͓̦a̷̛̼l̶̝̈́g̵̱̅o̶̡͝"]
WHITESPACE = ["", " ", "   ", "\n", "\t\t", "\u3000\u3000", "\u00a0", " \r\n \t "]
COMMANDS = ["/restart", "/session_start", "/faq{\"faq_topic\": \"../../etc/passwd\"}", "/faq{not json",
            "/ask_order_status{\"order_id\": \"' OR 1=1\"}", "/nonexistent_intent", "/" + "a" * 300,
            "/create_ticket{\"ticket_contact\": []}"]
# Demo orders no other e2e test uses: these inputs are an enumeration attempt, and the per-order
# lookup limit rightly locks the orders they aim at for the rest of the window.
ORDERISH = ["ICP2026112600412 0000", "订单号 ICP2026112600412 尾号 9999", "20261110-1185 后四位 1234",
            "ICP9999999999999", "ICP2026023100001", "订单号 " + "9" * 200]
LONE_SURROGATES = ["\ud800", "abc\udfffdef", "\udbff\udc00\ud800"]  # only JSON can carry them

NASTY = HTML + SQL + CONTROL + EMOJI + WHITESPACE + COMMANDS + ORDERISH

# Sent on purpose so the logs can be checked for them (mainland mobiles and e-mail addresses).
SENT_PHONES: set[str] = set()
SENT_EMAILS: set[str] = set()

# Spread over the number space (hypothesis likes small integers, which would all be 13000000000).
phones = st.integers(min_value=0, max_value=10**6).map(
    lambda n: "1" + "3456789"[n % 7] + f"{(n * 2_654_435_761 + 12_345_678) % 10**9:09d}")
emails = st.builds(lambda user, host: f"{user}@{host}.example.com",
                   st.text("abcdefghijklmnopqrstuvwxyz0123456789._", min_size=3, max_size=12).filter(
                       lambda u: u[0].isalnum()),
                   st.text("abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=10))


def _remember_phone(p: str) -> str:
    SENT_PHONES.add(p)
    return p


def _remember_email(e: str) -> str:
    SENT_EMAILS.add(e.lower())
    return e


# A phone number or an e-mail address in a sentence, the way a customer leaves a contact.
contacts = st.one_of(
    phones.map(_remember_phone).map(lambda p: f"我的手机号是 {p} 请回电"),
    phones.map(_remember_phone).map(lambda p: f"联系方式：{p}"),
    phones.map(_remember_phone).map(lambda p: f"+86 {p}，订单号 ICP2026112600412"),
    emails.map(_remember_email).map(lambda e: f"邮箱 {e} 谢谢"),
    emails.map(_remember_email).map(lambda e: f"contact me: {e}"),
)

texts = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=200),  # any code point hypothesis likes, control characters included
    st.text(st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp", "So", "Sk"]), max_size=50),
    st.lists(st.sampled_from(NASTY), min_size=2, max_size=6).map("".join),
    contacts,
    st.tuples(contacts, st.sampled_from(HTML + SQL)).map(" ".join),
    st.builds(lambda s, n: s * n, st.sampled_from(["备案", "ICP", "a", "😀", " "]), st.integers(300, 4000)),
)


def big_text(kb: int = 100) -> str:
    """About `kb` KB of text that would parse (Chinese words, digits, an order number)."""
    unit = "个人备案要准备什么材料 ICP2026112600412 "
    return (unit * (kb * 1024 // len(unit.encode("utf-8")) + 1))[: kb * 1024 // 3]


# --- JSON bodies ------------------------------------------------------------------------------------

def nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)
wrong_types = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                        st.lists(json_scalars, max_size=3), st.dictionaries(st.text(max_size=5), json_scalars,
                                                                            max_size=3))

MALFORMED_JSON = [
    b"", b" ", b"{", b"}", b"{not json", b"{'sender': 'x', 'message': 'hi'}", b'{"sender": "x", "message": "hi"',
    b'{"sender": "x", "message": "hi"}}', b'{"sender": "x" "message": "hi"}', b"[1, 2,]", b"NaN", b"Infinity",
    b'{"message": NaN}', b'{"message": "\\x41"}', b'{"message": "\\u12"}', b"null", b"true", b"0", b'"text"',
    b"\xef\xbb\xbf{\"sender\": \"bom\", \"message\": \"hi\"}", b"\xff\xfe\xfa", b"\x80\x81\x82",
    b'{"sender": "x", "message": "\xff\xfe"}', b'{"sender": "\xc3\x28", "message": "hi"}',
    b"\x00" * 64, nested(10_000).encode(), nested(10_000, "{\"a\":", "}").encode(),
    ('{"message": ' + "[" * 5000 + "]" * 5000 + "}").encode(), b"message=hi&sender=x",
    b"<xml><message>hi</message></xml>", b"--boundary\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nhi",
    '{"sender": "x", "message": "hi", "sender": ["dup"]}'.encode(),
    ('{"sender": "x", "message": "' + "\\u0000" * 100 + '"}').encode(),
]

CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                 "application/xml", "application/json; charset=latin-1", "application/octet-stream", "",
                 "application/json; charset=utf-16", "image/png", "*/*", "application/json\x7f"]


# --- WeChat ------------------------------------------------------------------------------------------

def wechat_sign(token: str, *parts: str) -> str:
    """WeChat's signature, computed here: SHA-1 of the sorted parts joined."""
    return hashlib.sha1("".join(sorted([token, *parts])).encode("utf-8")).hexdigest()


def wechat_text_xml(openid: str, content: str, msg_id: int, to: str = "gh_abuse", msg_type: str = "text") -> str:
    return (f"<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def billion_laughs(levels: int = 10) -> str:
    lines = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, levels)]
    return ('<?xml version="1.0"?><!DOCTYPE xml [' + "".join(lines) + "]>"
            f"<xml><ToUserName>a</ToUserName><FromUserName>bomb</FromUserName><CreateTime>1</CreateTime>"
            f"<MsgType>text</MsgType><Content>&lol{levels - 1};</Content><MsgId>1</MsgId></xml>")


def xml_bodies(openid: str, msg_id: int) -> list[tuple[str, bytes]]:
    """(category, body) pairs that must all be refused or answered, never crash: bombs, external
    entities, malformed and oversized XML, wrong structure, odd field types."""
    ok = wechat_text_xml(openid, "你好", msg_id).encode()
    head = (f"<ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName><CreateTime>{int(time.time())}"
            f"</CreateTime><MsgId>{msg_id}</MsgId>")
    items = [
        ("xml_bomb", billion_laughs().encode()),
        ("xml_bomb", billion_laughs(3).encode()),
        ("xml_bomb", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "' + b"A" * 1000 + b'">]><xml>&a;&a;</xml>'),
        ("xml_bomb", b'<!doctype xml [<!entity x "y">]><xml>&x;</xml>'),
        ("xml_bomb", b"<!  DOCTYPE xml><xml/>"),
        ("xxe", b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                b"<xml><MsgType>text</MsgType><FromUserName>x</FromUserName><Content>&xxe;</Content></xml>"),
        ("xxe", b'<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd"><xml/>'),
        ("xxe", "<?xml version='1.0' encoding='UTF-16'?><!DOCTYPE x [<!ENTITY a 'b'>]><xml>&a;</xml>".encode("utf-16")),
        ("xml_malformed", b"<xml>"),
        ("xml_malformed", b"<xml><MsgType>text</xml>"),
        ("xml_malformed", b"not xml at all"),
        ("xml_malformed", b"<xml></xml><xml></xml>"),
        ("xml_malformed", b"<?xml version='1.0'?>"),
        ("xml_malformed", b"<xml>&undefined;</xml>"),
        ("xml_malformed", b"<xml>\x00</xml>"),
        ("xml_malformed", b"<xml><Content>\xff\xfe</Content></xml>"),
        ("xml_malformed", b"\xef\xbb\xbf" + ok),
        ("xml_malformed", ok.replace(b"<xml>", b"<XML>").replace(b"</xml>", b"</XML>")),
        ("xml_malformed", b"<root>" + ok + b"</root>"),
        ("xml_malformed", b"<xml>" + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</xml>"),
        ("xml_malformed", b"<xml>" + b"<a>" * 20_000),
        ("xml_malformed", "<xml><Content>备案</Content></xml>".encode("gbk")),
        ("xml_malformed", b'<?xml version="1.0" encoding="gbk"?>' + "<xml><Content>备案</Content></xml>".encode("gbk")),
        ("xml_oversized", b"<xml><Content>" + b"A" * (64 * 1024 + 1) + b"</Content></xml>"),
        ("xml_oversized", ok[:-6] + b"<Pad>" + "备".encode() * 30_000 + b"</Pad></xml>"),
        ("xml_structure", b"<xml/>"),
        ("xml_structure", b"<xml>text only</xml>"),
        ("xml_structure", f"<xml>{head}</xml>".encode()),  # no MsgType
        ("xml_structure", "<xml><MsgType>text</MsgType><Content>hi</Content></xml>".encode()),  # no sender
        ("xml_structure", f"<xml>{head}<MsgType><a>text</a></MsgType></xml>".encode()),
        ("xml_structure", f"<xml>{head}<MsgType>text</MsgType><MsgType>image</MsgType></xml>".encode()),
        ("xml_structure", f"<xml>{head}<MsgType>unknown_type</MsgType></xml>".encode()),
        ("xml_structure", f"<xml>{head}<MsgType>event</MsgType></xml>".encode()),
        ("xml_structure", f"<xml>{head}<MsgType>event</MsgType><Event><a>1</a></Event></xml>".encode()),
        ("xml_structure", f"<xml>{head}<MsgType>event</MsgType><Event>subscribe</Event>"
                          f"<EventKey><a>1</a></EventKey></xml>".encode()),
        ("xml_structure", f"<xml>{head}<MsgType>device_text</MsgType></xml>".encode()),
        ("xml_structure", f"<xml>{head}<MsgType>voice</MsgType><Recognition></Recognition></xml>".encode()),
        ("xml_structure", f"<xml>{head}<MsgType>image</MsgType><PicUrl>javascript:alert(1)</PicUrl></xml>".encode()),
        ("xml_structure", f"<xml>{head}<MsgType>text</MsgType></xml>".encode()),  # no Content
        ("xml_structure", f"<xml>{head}<MsgType>text</MsgType><Content></Content></xml>".encode()),
        ("xml_structure", f"<xml>{head.replace(openid, '../../etc/passwd')}<MsgType>text</MsgType>"
                          f"<Content>hi</Content></xml>".encode()),
        ("xml_structure", f"<xml>{head.replace(openid, 'x' * 65)}<MsgType>text</MsgType>"
                          f"<Content>hi</Content></xml>".encode()),
        ("xml_structure", f"<xml>{head.replace(str(int(time.time())), 'not-a-time')}<MsgType>text</MsgType>"
                          f"<Content>hi</Content></xml>".encode()),
        ("xml_structure", wechat_text_xml(openid, "hi", msg_id, to="<a>").encode()),
    ]
    return items


# Field values that parse as XML elements rather than text (a dict or a list for wechatpy).
def odd_field_bodies(openid: str, msg_id: int) -> list[tuple[str, bytes]]:
    head = (f"<ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName><CreateTime>{int(time.time())}"
            f"</CreateTime><MsgId>{msg_id}</MsgId>")
    return [
        ("xml_odd_field", f"<xml>{head}<MsgType>text</MsgType><Content><a>1</a></Content></xml>".encode()),
        ("xml_odd_field", f"<xml>{head}<MsgType>text</MsgType><Content>a</Content><Content>b</Content></xml>".encode()),
        ("xml_odd_field", f"<xml>{head}<MsgType>voice</MsgType><Recognition><a>1</a></Recognition></xml>".encode()),
        ("xml_odd_field", f"<xml><ToUserName><a>1</a></ToUserName><FromUserName>{openid}</FromUserName>"
                          f"<CreateTime>1</CreateTime><MsgId>{msg_id + 1}</MsgId><MsgType>text</MsgType>"
                          f"<Content>hi</Content></xml>".encode()),
    ]


# --- forged credentials ---------------------------------------------------------------------------

def forged_signatures(token: str, timestamp: str, nonce: str, n: int) -> list[tuple[str, dict]]:
    """`n` distinct (category, query) pairs whose signature is wrong, missing or stale, for `token`."""
    good = wechat_sign(token, timestamp, nonce)
    out: list[tuple[str, dict]] = [
        ("sig_missing", {"timestamp": timestamp, "nonce": nonce}),
        ("sig_missing", {"signature": good, "nonce": nonce}),  # no timestamp
        ("sig_missing", {"signature": good, "timestamp": timestamp}),  # no nonce
        ("sig_missing", {}),
        ("sig_forged", {"signature": "", "timestamp": timestamp, "nonce": nonce}),
        ("sig_forged", {"signature": good.upper(), "timestamp": timestamp, "nonce": nonce}),
        ("sig_forged", {"signature": good[:-1], "timestamp": timestamp, "nonce": nonce}),
        ("sig_forged", {"signature": good + "0", "timestamp": timestamp, "nonce": nonce}),
        ("sig_forged", {"signature": " " + good, "timestamp": timestamp, "nonce": nonce}),
        ("sig_forged", {"signature": wechat_sign("", timestamp, nonce), "timestamp": timestamp, "nonce": nonce}),
        ("sig_forged", {"signature": wechat_sign(token, timestamp, nonce + "x"), "timestamp": timestamp, "nonce": nonce}),
        ("sig_forged", {"signature": "备案" * 20, "timestamp": timestamp, "nonce": nonce}),
        ("sig_forged", {"signature": "\x00" * 40, "timestamp": timestamp, "nonce": nonce}),
        ("sig_forged", {"signature": good, "timestamp": timestamp + " ", "nonce": nonce}),
        ("sig_forged", {"signature": good, "timestamp": timestamp, "nonce": nonce + "1"}),
    ]
    for i in range(1, 11):  # wrong tokens that look right
        out.append(("sig_forged", {"signature": wechat_sign(token[:-1] + chr(ord(token[-1]) ^ i), timestamp, nonce),
                                   "timestamp": timestamp, "nonce": nonce}))
    stale = [str(int(timestamp) + d) for d in (-330, -600, -3600, -86400, 400, 3600, -10**9)] + [
        "0", "99999999999", "-1", "1e10", "abc", "", "１７００００００００", "1" * 13]
    # Well outside the 300 s window, so no timestamp drifts into it while the test runs.
    for ts in stale:  # correctly signed, but not a fresh timestamp
        out.append(("sig_stale", {"signature": wechat_sign(token, ts, nonce), "timestamp": ts, "nonce": nonce}))
    i = 0
    while len(out) < n:  # random-looking hex digests
        digest = hashlib.sha1(f"forged-{i}".encode()).hexdigest()
        out.append(("sig_forged", {"signature": digest, "timestamp": timestamp, "nonce": nonce}))
        i += 1
    return out


def forged_authorizations(token: str, n: int) -> list[tuple[str, dict]]:
    """`n` distinct Authorization headers (or none) that must not authenticate as `token`."""
    heads: list[dict] = [{}, {"Authorization": ""}, {"Authorization": "Bearer"}, {"Authorization": "Bearer "},
                         {"Authorization": token}, {"Authorization": f"Basic {token}"},
                         {"Authorization": f"Token {token}"}, {"Authorization": f"Bearer{token}"},
                         {"Authorization": f"Bearer {token[:-1]}"}, {"Authorization": f"Bearer {token}x"},
                         {"Authorization": f"Bearer {token.upper()}"}, {"Authorization": f"Bearer {token[::-1]}"},
                         {"Authorization": f"Bearer {token},{token}"}, {"Authorization": f"Bearer {token} {token}"},
                         {"Authorization": f"Bearer {'A' * 4000}"}, {"Authorization": "Bearer null"},
                         {"Authorization": "Bearer undefined"}, {"Authorization": "Bearer ' OR 1=1 --"},
                         {"X-Authorization": f"Bearer {token}"}, {"Cookie": f"token={token}"}]
    for i in range(len(token)):  # one character changed, at every position
        if len(heads) >= n:
            break
        c = "x" if token[i] != "x" else "y"
        heads.append({"Authorization": f"Bearer {token[:i]}{c}{token[i + 1:]}"})
    i = 0
    while len(heads) < n:
        heads.append({"Authorization": f"Bearer {hashlib.sha256(f'forged-{i}'.encode()).hexdigest()[:32]}"})
        i += 1
    return [("token_forged", h) for h in heads[:n]]


def dumps(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
