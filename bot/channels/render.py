"""One answer text, shown per channel. Pure functions, no I/O.

Answers (faq/*.yml, and the texts actions write) use a small markdown subset:

    **bold**                 inline, on one line
    - item   /   * item      a bullet (indented = nested)
    1. step / 1) step / 1、step   a numbered step; a list starts at its first number and counts up
    [text](https://…)        a link (http/https only; anything else stays literal)
    https://…                a bare URL
    blank line               ends a paragraph or a list

Where each channel gets its rendering — one place each:

- **Widget and copilot page (HTML)**: client side, `static/markdown.js` (`BeianMarkdown.render`),
  which builds DOM nodes with `textContent` only (the browser never parses answer text as HTML).
  The server sends the markdown text unchanged. `blocks()` below is the same grammar, and
  tests/channels/test_render_parity.py runs markdown.js under node to keep the two in step.
- **WeChat (plain text)**: `to_plain()`, applied by `wechat_protocol.render` to every outgoing text
  and button title. Bold loses its marks, bullets become "•" (nested "◦"), steps become ①②③ (or
  "第21步" once a list passes 20), links become "text URL", stray `**` go, blank lines are tidied.
  No line starts with a digit and a dot, so steps never look like WeChat's numbered options
  (`wechat_protocol`: 【1】 in their own block; a typed "②" is a step, not option 2).
- **Copilot "复制答案"**: the same `to_plain()` text, sent by the server as `answer_plain`: agents
  paste answers into WeChat, phone notes and tickets, where markdown would show raw.

Text without markdown passes through unchanged (trailing spaces and extra blank lines aside).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import List, Tuple

# The grammar. markdown.js has the same expressions (BULLET, NUMBERED, BOLD, LINK, URL).
BULLET = re.compile(r"^(\s*)[-*]\s+(.*)$")
NUMBERED = re.compile(r"^(\s*)([0-9]{1,3})(?:[.)]\s+|、\s*)(.*)$")
BOLD = re.compile(r"\*\*([^*]+?)\*\*")
LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s()<>]+)\)")
URL = re.compile(r"https?://[!-~]+")  # printable ASCII; CJK text or punctuation ends it
URL_TAIL = ".,;:!?*_'\")]}"  # trailing characters that belong to the sentence, not the URL

BULLET_MARK = "•"
NESTED_MARK = "◦"
MAX_CIRCLED = 20  # ①…⑳; longer lists say 第n步
NESTED_INDENT = 2  # spaces before a bullet that make it nested


def circled(n: int) -> str:
    """①…⑳ for 1…20."""
    if not 1 <= n <= MAX_CIRCLED:
        raise ValueError(f"no circled digit for {n}")
    return chr(0x2460 + n - 1)


CIRCLED = frozenset(circled(n) for n in range(1, MAX_CIRCLED + 1))


@dataclass
class Block:
    """A paragraph (`p`: its lines), a bullet list (`ul`) or a numbered list (`ol`, from `start`).
    `items` are the raw inline texts; `indents` the leading whitespace width of each item."""

    kind: str
    items: List[str] = field(default_factory=list)
    indents: List[int] = field(default_factory=list)
    start: int = 1
    after_blank: bool = False  # a blank line came before it (kept as one in plain text)


def blocks(text: str | None) -> List[Block]:
    """The block structure of `text`, exactly as markdown.js groups it: consecutive lines of one
    kind form one block; a blank line ends any block."""
    out: List[Block] = []
    current: Block | None = None
    blank = False
    for line in _lines(text):
        bullet = BULLET.match(line)
        numbered = None if bullet else NUMBERED.match(line)
        kind = "ul" if bullet else "ol" if numbered else "p" if line.strip() else None
        if kind is None:
            current, blank = None, True
            continue
        if current is None or current.kind != kind:
            current = Block(kind, start=int(numbered.group(2)) if numbered else 1, after_blank=blank)
            out.append(current)
        blank = False
        if bullet:
            current.items.append(bullet.group(2))
            current.indents.append(len(bullet.group(1).expandtabs(4)))
        elif numbered:
            current.items.append(numbered.group(3))
            current.indents.append(len(numbered.group(1).expandtabs(4)))
        else:
            current.items.append(line)
            current.indents.append(0)
    return out


def to_plain(text: str | None) -> str:
    """The text as plain text for WeChat (and for agents to paste): see the module docstring."""
    lines: List[str] = []
    for block in blocks(text):
        if lines and block.after_blank:
            lines.append("")
        if block.kind == "p":
            for item in block.items:
                plain = inline_plain(item)
                # "**1. 登录**" is a step once its marks are gone: render it as one, never as "1. "
                lines.append(to_plain(plain) if BULLET.match(plain) or NUMBERED.match(plain) else plain)
        elif block.kind == "ul":
            for item, indent in zip(block.items, block.indents, strict=True):
                if not inline_plain(item).strip():
                    continue  # an empty bullet would leave a lone mark
                mark = NESTED_MARK if indent >= NESTED_INDENT else BULLET_MARK
                lines.append(("  " if indent >= NESTED_INDENT else "") + f"{mark} {inline_plain(item)}")
        else:
            last = block.start + len(block.items) - 1
            circle = block.start >= 1 and last <= MAX_CIRCLED
            for i, (item, indent) in enumerate(zip(block.items, block.indents, strict=True)):
                n = block.start + i
                nested = "  " if indent >= NESTED_INDENT else ""
                lines.append(f"{nested}{circled(n) if circle else f'第{n}步'} {inline_plain(item)}")
    return _tidy("\n".join(lines))


def inline_plain(text: str) -> str:
    """One line's inline markdown as plain text: bold marks dropped (stray `**` too), links as
    "text URL" (just the URL when the text is the URL), URLs untouched (`*` and `_` in them kept)."""
    kept: List[str] = []

    def keep(value: str) -> str:
        kept.append(value)
        return f"\ue000{len(kept) - 1}\ue001"

    def link(m: re.Match) -> str:
        label = _unbold(m.group(1)).strip()
        url = m.group(2)
        return keep(url) if not label or label == url else label + " " + keep(url) + "\ue002"

    def bare(m: re.Match) -> str:
        url = m.group(0)
        trimmed = url.rstrip(URL_TAIL)
        return keep(trimmed) + url[len(trimmed):]

    text = LINK.sub(link, text)
    text = URL.sub(bare, text)
    text = _unbold(text).replace("**", "")
    text = re.sub("\ue000(\\d+)\ue001", lambda m: kept[int(m.group(1))], text)
    # A link's URL is followed by a space unless the line ends or a space follows anyway, so that
    # WeChat's link detection stops at the URL.
    text = re.sub("\ue002(?=\\S)", " ", text).replace("\ue002", "")
    return text


def _unbold(text: str) -> str:
    return BOLD.sub(lambda m: m.group(1), text)


def _lines(text: str | None) -> List[str]:
    return str(text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _tidy(text: str) -> str:
    """Trailing spaces off, at most one blank line in a row, none at the ends."""
    lines = [line.rstrip() for line in text.split("\n")]
    out: List[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


__all__: Tuple[str, ...] = ("BULLET", "NUMBERED", "BOLD", "LINK", "URL", "Block", "CIRCLED", "blocks", "circled",
                            "inline_plain", "to_plain")
