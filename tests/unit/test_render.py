"""The per-channel rendering (bot/channels/render.py): the renderer on edge cases, and every answer in
the knowledge base as WeChat shows it. The knowledge-base test reads faq/ as it is, so it holds for
whatever the content owners write in the supported markdown (bold, bullets, numbered steps, links)."""
from __future__ import annotations

import re

import pytest

from bot.channels.render import CIRCLED, blocks, circled, inline_plain, to_plain
from bot.channels.wechat_protocol import OPTIONS_HEADER, render
from bot.config import ROOT
from bot.faq.kb import load_kb, load_provinces

# --- every answer in the knowledge base, as WeChat shows it ---------------------------------------

RAW_BOLD = re.compile(r"\*\*")
RAW_BULLET = re.compile(r"^\s*[-*]\s", re.M)
RAW_STEP = re.compile(r"^\s*\d+(?:[.)]\s|、)", re.M)
RAW_LINK = re.compile(r"\]\(https?://")
URLS = re.compile(r"https?://[!-~]+")


def kb_answers() -> list[tuple[str, str]]:
    """(id, text) for every answer, every `parts:` sub-answer and every province answer."""
    faq = ROOT / "faq"
    answers = []
    for topic in load_kb(faq).topics:
        answers.append((topic.id, topic.answer))
        answers += [(f"{topic.id}:{part}", text) for part, text in topic.parts.items()]
    answers += [(f"province:{name}", rules.answer) for name, rules in load_provinces(faq).items()]
    return answers


ANSWERS = kb_answers()


def test_the_knowledge_base_has_answers_with_markdown_to_render():
    assert len(ANSWERS) >= 78
    assert any(RAW_BULLET.search(a) for _, a in ANSWERS)  # else this test would prove nothing


def wechat_problems(plain: str) -> list[str]:
    problems = []
    for name, pattern in (("raw **", RAW_BOLD), ("line-leading bullet", RAW_BULLET),
                          ("line-leading step number", RAW_STEP), ("markdown link", RAW_LINK)):
        found = pattern.search(plain)
        if found:
            line = plain[plain.rfind("\n", 0, found.start()) + 1:].split("\n", 1)[0]
            problems.append(f"{name}: {line!r}")
    if "\n\n\n" in plain or plain != plain.strip() or any(line != line.rstrip() for line in plain.split("\n")):
        problems.append("untidy blank lines or trailing spaces")
    return problems


@pytest.mark.parametrize("answer_id, text", ANSWERS, ids=[i for i, _ in ANSWERS])
def test_every_answer_reaches_wechat_as_plain_text(answer_id, text):
    sent = render([{"text": text, "buttons": [{"title": "找人工", "payload": "/request_human"}]}]).text
    answer, _, options = sent.rpartition("\n\n" + OPTIONS_HEADER + "\n")
    assert options == "【1】找人工"
    assert wechat_problems(answer) == [], f"{answer_id} in WeChat:\n{answer}"
    assert answer == to_plain(text) and to_plain(answer) == answer  # nothing left to render
    for url in URLS.findall(text):  # links stay, as plain URLs
        assert url.rstrip(".,;:!?*_'\")]}") in answer
    assert not (set(answer) & CIRCLED) or any(b.kind == "ol" for b in blocks(text))


# --- the renderer on edge cases --------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "\n\n", "   "])
def test_empty_text(text):
    assert to_plain(text) == ""


@pytest.mark.parametrize("text", [
    "好的，请稍等。",
    "第一行\n第二行\n\n新段落",
    "2*3=6，下划线 snake_case 和 __init__ 都不是标记",
    "审核约需 3.5 个工作日。\n1.5倍的时间也可能",  # a number at a line start without a space is not a step
    "链接地址：https://beian.miit.gov.cn 。",
    "• 已经是纯文本的要点\n① 已经是纯文本的步骤",
    "  缩进的一行",
])
def test_text_without_markdown_is_unchanged(text):
    assert to_plain(text) == text


def test_bold_inside_list_items():
    assert to_plain("- **身份证**原件\n- 户口本（**非必须**）") == "• 身份证原件\n• 户口本（非必须）"
    assert to_plain("1. 先**登录**控制台\n2. **上传材料**") == "① 先登录控制台\n② 上传材料"
    assert to_plain("**注意：**\n- 不能**代办**") == "注意：\n• 不能代办"


def test_bullets_and_nesting():
    assert to_plain("* 甲\n- 乙") == "• 甲\n• 乙"
    assert to_plain("1. 登录\n   - 选择“ICP备案”\n2. 提交") == "① 登录\n  ◦ 选择“ICP备案”\n② 提交"
    assert to_plain("- \n- 乙") == "• 乙"  # an empty item leaves no lone mark
    assert to_plain("- 甲\n  1. 子步骤\n  2. 子步骤") == "• 甲\n  ① 子步骤\n  ② 子步骤"


def test_a_marker_inside_bold_still_renders():
    """The widget shows "**1. 登录**" as a bold line; WeChat must not show a bare "1. " either."""
    assert to_plain("**1. 登录控制台**\n**- 注意**") == "① 登录控制台\n• 注意"


@pytest.mark.parametrize("text, plain", [
    ("1. 甲\n2. 乙\n3. 丙", "① 甲\n② 乙\n③ 丙"),
    ("1. 甲\n1. 乙\n1. 丙", "① 甲\n② 乙\n③ 丙"),  # a list counts up from its first number
    ("3. 丙\n4. 丁", "③ 丙\n④ 丁"),
    ("1) 甲\n2) 乙", "① 甲\n② 乙"),
    ("1、甲\n2、乙", "① 甲\n② 乙"),
    ("1. 甲\n\n2. 乙", "① 甲\n\n② 乙"),
    ("\n".join(f"{n}. 项" for n in range(1, 22)), "\n".join(f"第{n}步 项" for n in range(1, 22))),
    ("0. 零\n1. 一", "第0步 零\n第1步 一"),
])
def test_steps(text, plain):
    assert to_plain(text) == plain


def test_circled_digits():
    assert [circled(n) for n in (1, 2, 10, 20)] == ["①", "②", "⑩", "⑳"]
    with pytest.raises(ValueError):
        circled(21)


@pytest.mark.parametrize("text, plain", [
    ("见 https://example.com/a_b__c__d/*x*?q=1 页面", "见 https://example.com/a_b__c__d/*x*?q=1 页面"),
    ("见 https://example.com/**x**/y", "见 https://example.com/**x**/y"),
    ("登录[控制台](https://console.example.com/beian_home/*)提交", "登录控制台 https://console.example.com/beian_home/* 提交"),
    ("[https://beian.miit.gov.cn](https://beian.miit.gov.cn)", "https://beian.miit.gov.cn"),
    ("打开[**工信部**备案系统](https://beian.miit.gov.cn)。", "打开工信部备案系统 https://beian.miit.gov.cn 。"),
    ("**https://beian.miit.gov.cn**", "https://beian.miit.gov.cn"),
    ("**链接：https://beian.miit.gov.cn/a_b**。", "链接：https://beian.miit.gov.cn/a_b。"),
    ("[坏](javascript:alert(1))", "[坏](javascript:alert(1))"),  # not a link: literal, as in the widget
])
def test_links_and_urls(text, plain):
    assert to_plain(text) == plain


def test_stray_markers_and_tidy_blank_lines():
    assert to_plain("**注意 没有闭合\n- 甲**") == "注意 没有闭合\n• 甲"
    assert to_plain("\n\n甲  \n\n\n\n乙\r\n\r\n丙\n\n") == "甲\n\n乙\n\n丙"
    assert to_plain("甲\n- 乙\n\n\n1. 丙") == "甲\n• 乙\n\n① 丙"


def test_inline_plain_keeps_what_is_not_markdown():
    assert inline_plain("a*b*c 与 __x__") == "a*b*c 与 __x__"


def test_blocks_follow_the_widget_grammar():
    got = [(b.kind, b.start, b.items) for b in blocks("说明\n第二行\n- 甲\n- 乙\n\n3. 丙\n4. 丁\n尾")]
    assert got == [("p", 1, ["说明", "第二行"]), ("ul", 1, ["甲", "乙"]), ("ol", 3, ["丙", "丁"]), ("p", 1, ["尾"])]
