/* The assistant's simple markdown, rendered safely: shared by the chat widget and the copilot page.
 *
 * Supported: **bold**, "- " / "* " and "1. " lists, [links](https://…) (http and https only;
 * anything else stays literal text) and line breaks. The DOM is built with createElement and
 * textContent only, so HTML in the text is shown as text, never parsed.
 */
(function (global) {
  "use strict";

  var INLINE = /\*\*([^*]+?)\*\*|\[([^\]\n]+)\]\((https?:\/\/[^\s()<>]+)\)/g;
  var BULLET = /^\s*[-*]\s+(.*)$/;
  var NUMBERED = /^\s*\d{1,3}[.)、]\s+(.*)$/;

  function safeUrl(url) {
    try {
      var parsed = new URL(url);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  /* Appends `text` to `parent`, bold and links made into elements, everything else text nodes. */
  function inline(parent, text) {
    var last = 0;
    var match;
    INLINE.lastIndex = 0;
    while ((match = INLINE.exec(text)) !== null) {
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      if (match[1] !== undefined) {
        var strong = document.createElement("strong");
        strong.textContent = match[1];
        parent.appendChild(strong);
      } else {
        var href = safeUrl(match[3]);
        if (href) {
          var a = document.createElement("a");
          a.href = href;
          a.textContent = match[2];
          a.target = "_blank";
          a.rel = "noopener noreferrer nofollow";
          parent.appendChild(a);
        } else {
          parent.appendChild(document.createTextNode(match[0]));
        }
      }
      last = INLINE.lastIndex;
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
      } else if (wanted === "p") {
        block.appendChild(document.createElement("br"));
      }
      if (wanted === "p") {
        inline(block, line);
      } else {
        inline(block.appendChild(document.createElement("li")), (bullet || numbered)[1]);
      }
    });
    return fragment;
  }

  /* The text without markdown marks: what an agent pastes into another chat. */
  function plain(text) {
    return String(text == null ? "" : text)
      .replace(/\*\*([^*]+?)\*\*/g, "$1")
      .replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s()<>]+)\)/g, "$1 ($2)");
  }

  global.BeianMarkdown = { render: render, plain: plain };
})(window);
