"""The widget's HTML (static/markdown.js, in the browser) and WeChat's plain text (render.py) read
answers with one grammar: markdown.js runs here under node with a minimal DOM, and the blocks it
builds (paragraphs, bullet lists, numbered lists and where they start, links) must be the blocks
render.blocks() finds, for every answer in the knowledge base and for the edge cases below.
Skipped where node is not installed (the browser tests in tests/e2e cover markdown.js there)."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from bot.channels.render import LINK, URL, URL_TAIL, blocks
from bot.channels.web import STATIC_DIR
from bot.config import ROOT
from bot.faq.kb import load_kb, load_provinces

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

# A DOM just big enough for markdown.js: elements, text nodes, fragments.
HARNESS = r"""
function El(tag) { this.tag = tag; this.children = []; this.attrs = {}; this.text = null; }
El.prototype.appendChild = function (c) { this.children.push(c); return c; };
El.prototype.setAttribute = function (k, v) { this.attrs[k] = String(v); };
Object.defineProperty(El.prototype, "textContent", {
  set: function (v) { this.children = [{ tag: "#text", text: String(v) }]; },
  get: function () { return this.children.map(function (c) { return c.tag === "#text" ? c.text : c.textContent; }).join(""); }
});
globalThis.window = globalThis;
globalThis.document = {
  createElement: function (tag) { return new El(tag); },
  createTextNode: function (t) { return { tag: "#text", text: String(t) }; },
  createDocumentFragment: function () { return new El("#fragment"); }
};
require(process.argv[process.argv.length - 1]);  // node -e: the file is the last argument
function hrefs(node, out) {
  if (node.tag === "a") out.push(node.href);
  (node.children || []).forEach(function (c) { hrefs(c, out); });
  return out;
}
var texts = JSON.parse(require("fs").readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(texts.map(function (text) {
  return BeianMarkdown.render(text).children.map(function (b) {
    var items = b.tag === "p" ? b.children.filter(function (c) { return c.tag === "br"; }).length + 1 : b.children.length;
    return { kind: b.tag, start: Number(b.attrs.start || 1), items: items, hrefs: hrefs(b, []) };
  });
})));
"""

EDGE_CASES = [
    "",
    "好的",
    "说明\n第二行\n- 甲\n* 乙\n\n3. 丙\n4. 丁\n尾",
    "1) 甲\n2) 乙\n1、丙\n\n1. 丁\n   - 子项\n2. 戊",
    "审核约需 3.5 个工作日。\n1.5倍的时间也可能\n2024.1 起",
    "- **身份证**原件\n- [控制台](https://console.example.com/beian_home/*)\n- ",
    "见 https://example.com/a_b__c__d/*x*?q=1 页面，https://beian.miit.gov.cn。",
    "**https://beian.miit.gov.cn** [坏](javascript:alert(1))",
    "\r\n甲\r\n\r\n\r\n- 乙\r\n",
]


def python_blocks(text: str) -> list[dict]:
    out = []
    for b in blocks(text):
        urls = []
        for item in b.items:
            for m in LINK.finditer(item):
                urls.append((m.start(), m.group(2)))
            rest = LINK.sub(lambda m: " " * len(m.group(0)), item)
            urls += [(m.start(), m.group(0).rstrip(URL_TAIL)) for m in URL.finditer(rest)]
        out.append({"kind": b.kind, "start": b.start, "items": len(b.items), "hrefs": [u for _, u in sorted(urls)]})
    return out


def node_blocks(texts: list[str]) -> list[list[dict]]:
    run = subprocess.run([NODE, "-e", HARNESS, str(STATIC_DIR / "markdown.js")], input=json.dumps(texts),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def normalize_hrefs(rendered: list[dict]) -> list[dict]:
    """The browser's URL parser adds a '/' after a bare host; compare without it."""
    return [{**b, "hrefs": [h.rstrip("/") for h in b["hrefs"]]} for b in rendered]


def all_answers() -> list[str]:
    faq = ROOT / "faq"
    texts = []
    for topic in load_kb(faq).topics:
        texts += [topic.answer, *topic.parts.values()]
    return texts + [rules.answer for rules in load_provinces(faq).values()]


@pytest.mark.parametrize("which", ["edge cases", "knowledge base"])
def test_markdown_js_and_render_py_find_the_same_blocks(which):
    texts = EDGE_CASES if which == "edge cases" else all_answers()
    for text, js in zip(texts, node_blocks(texts)):
        assert normalize_hrefs(js) == normalize_hrefs(python_blocks(text)), text


def test_the_harness_sees_what_a_browser_would():
    [rendered] = node_blocks(["甲 **乙**\n- [链接](https://a.example/x) https://b.example/y。\n3. 丙"])
    assert rendered == [{"kind": "p", "start": 1, "items": 1, "hrefs": []},
                        {"kind": "ul", "start": 1, "items": 1, "hrefs": ["https://a.example/x", "https://b.example/y"]},
                        {"kind": "ol", "start": 3, "items": 1, "hrefs": []}]
