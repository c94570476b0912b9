/* The assistant's simple markdown, rendered safely: shared by the chat widget and the copilot page.
 *
 * Supported: **bold**, "- " / "* " bullets, "1. " / "1) " / "1、" steps (a list starts at its first
 * number), [links](https://…) and bare https:// URLs (http and https only; anything else stays
 * literal text) and line breaks. The DOM is built with createElement and textContent only, so HTML
 * in the text is shown as text, never parsed.
 *
 * This is the one HTML rendering of answers. The same grammar, as plain text for WeChat and for
 * agents to paste, is bot/channels/render.py (`blocks`, `to_plain`); keep the expressions below
 * and that module's in step (tests/channels/test_render_parity.py runs this file under node).
 */
(function (global) {
  "use strict";

  var INLINE = /\*\*([^*]+?)\*\*|\[([^\]\n]+)\]\((https?:\/\/[^\s()<>]+)\)|(https?:\/\/[!-~]+)/g;
  var BULLET = /^\s*[-*]\s+(.*)$/;
  var NUMBERED = /^\s*([0-9]{1,3})(?:[.)]\s+|、\s*)(.*)$/;
  var URL_TAIL = /[.,;:!?*_'")\]}]+$/;  // sentence punctuation after a bare URL is not part of it

  function safeUrl(url) {
    try {
      var parsed = new URL(url);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function link(parent, url, label) {
    var href = safeUrl(url);
    if (!href) {
      parent.appendChild(document.createTextNode(label === null ? url : "[" + label + "](" + url + ")"));
      return;
    }
    var a = document.createElement("a");
    a.href = href;
    a.textContent = label === null ? url : label;
    a.target = "_blank";
    a.rel = "noopener noreferrer nofollow";
    parent.appendChild(a);
  }

  /* Appends `text` to `parent`, bold and links made into elements, everything else text nodes.
   * Bold may hold a link (its text has no "**", so the recursion ends). */
  function inline(parent, text) {
    var pattern = new RegExp(INLINE.source, "g");  // one per call: the bold recursion has its own
    var last = 0;
    var match;
    while ((match = pattern.exec(text)) !== null) {
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      if (match[1] !== undefined) {
        inline(parent.appendChild(document.createElement("strong")), match[1]);
        last = pattern.lastIndex;
      } else if (match[2] !== undefined) {
        link(parent, match[3], match[2]);
        last = pattern.lastIndex;
      } else {
        var url = match[4].replace(URL_TAIL, "");
        link(parent, url, null);
        last = match.index + url.length;
        pattern.lastIndex = last;
      }
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  /* A DocumentFragment of paragraphs (<p> with <br>) and lists (<ul>/<ol>) for `text`. */
  function render(text) {
    var fragment = document.createDocumentFragment();
    var lines = String(text == null ? "" : text).replace(/\r\n?/g, "\n").split("\n");
    var block = null;
    var kind = null;
    lines.forEach(function (line) {
      var bullet = BULLET.exec(line);
      var numbered = bullet ? null : NUMBERED.exec(line);
      var wanted = bullet ? "ul" : numbered ? "ol" : line.trim() ? "p" : null;
      if (wanted === null) {
        block = kind = null;
        return;
      }
      if (wanted !== kind) {
        block = fragment.appendChild(document.createElement(wanted));
        kind = wanted;
        if (numbered && Number(numbered[1]) !== 1) block.setAttribute("start", String(Number(numbered[1])));
      } else if (wanted === "p") {
        block.appendChild(document.createElement("br"));
      }
      if (wanted === "p") {
        inline(block, line);
      } else {
        inline(block.appendChild(document.createElement("li")), bullet ? bullet[1] : numbered[2]);
      }
    });
    return fragment;
  }

  global.BeianMarkdown = { render: render };
})(window);
