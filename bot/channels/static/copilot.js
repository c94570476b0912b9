/* The agents' copilot page: paste a customer's message, get the assistant's reading and answers.
 *
 * The token lives in sessionStorage (this tab only) and goes out as `Authorization: Bearer` on
 * every API call; a 401 forgets it, says 令牌无效 and asks again, then retries what was asked.
 * Everything from the server is shown with textContent (answers through markdown.js, which
 * builds elements the same way), so nothing in a message or an answer can become HTML.
 */
(function () {
  "use strict";

  var API = "/webhooks/copilot/";
  var KEY_TOKEN = "copilot.token";
  var COPIED_MS = 2000;
  var VERDICTS = { used: "已采用", wrong: "不对" };
  var ORDER_FIELDS = [
    ["status_label", "状态"], ["status_detail", "说明"], ["meaning", "含义"], ["wait", "通常等待"],
    ["next_step", "下一步"], ["icp_number", "备案号"], ["province", "省份"], ["updated_at", "更新时间"]
  ];

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function percent(x) { return Math.round((Number(x) || 0) * 100) + "%"; }

  // --- the token ----------------------------------------------------------------------------------

  function Unauthorized() {}

  function token() {
    try { return sessionStorage.getItem(KEY_TOKEN); } catch (e) { return null; }
  }

  function setToken(value) {
    try {
      if (value) sessionStorage.setItem(KEY_TOKEN, value);
      else sessionStorage.removeItem(KEY_TOKEN);
    } catch (e) { /* storage disabled: the token is asked for again on reload */ }
    memoryToken = value || null;
  }

  var memoryToken = null;
  var pending = null;  // what to do once a (new) token has been given

  function askToken(message) {
    $("work").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("token").value = "";
    $("token").focus();
  }

  function showWork() {
    $("login").hidden = true;
    $("work").hidden = false;
    $("logout").hidden = false;
    $("message").focus();
  }

  /* Runs `action` (which calls the API); on 401 asks for the token and runs it again after. */
  function withToken(action) {
    if (!(token() || memoryToken)) {
      pending = action;
      askToken("");
      return;
    }
    action().catch(function (error) {
      if (error instanceof Unauthorized) {
        setToken(null);
        pending = action;
        askToken("令牌无效，请重新输入。");
      } else {
        showError(error.message);
      }
    });
  }

  // --- the API ------------------------------------------------------------------------------------

  function api(method, path, body) {
    var headers = { Authorization: "Bearer " + (token() || memoryToken) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(API + path, {
      method: method, headers: headers, cache: "no-store", credentials: "omit",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).catch(function () {
      throw new Error("网络错误，请检查连接后重试。");
    }).then(function (response) {
      if (response.status === 401) throw new Unauthorized();
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) return data;
        if (response.status === 503) throw new Error("服务暂时不可用（模型加载中或数据库不可用），请稍后再试。");
        if (response.status === 404) throw new Error("没有找到这个会话。");
        throw new Error("请求有误：" + (data.error || response.status));
      });
    });
  }

  function showError(message) {
    $("error").textContent = message || "";
  }

  // --- suggestions --------------------------------------------------------------------------------

  var asked = null;  // the text and conversation the shown suggestions are for

  function suggest() {
    var text = $("message").value.trim();
    if (!text) return;
    var conversation = $("conversation").value.trim() || undefined;
    showError("");
    withToken(function () {
      $("ask").disabled = true;
      return api("POST", "suggest", { text: text, conversation_id: conversation }).then(function (result) {
        asked = { text: text, conversation: conversation };
        render(result);
      }).finally(function () { $("ask").disabled = false; });
    });
  }

  function render(result) {
    var intent = result.intent || {};
    $("intent").textContent = (intent.name || "未知") + "（" + percent(intent.confidence) + "）";

    var entities = $("entities");
    entities.textContent = "";
    (result.entities || []).forEach(function (e) {
      entities.appendChild(el("span", "cp-chip", e.entity + "：" + e.value));
    });
    if (!entities.childNodes.length) entities.textContent = "无";

    renderOrder(result.order);

    var list = $("candidates");
    list.textContent = "";
    (result.candidates || []).forEach(function (c, i) { list.appendChild(candidate(c, i + 1)); });
    if (!list.childNodes.length) list.appendChild(el("p", "cp-hint", "没有候选答案。"));
    $("result").hidden = false;
  }

  function renderOrder(order) {
    var box = $("order");
    box.textContent = "";
    box.hidden = !order;
    if (!order) return;
    box.appendChild(el("h2", null, "订单 " + order.order_no));
    if (order.error) {
      box.appendChild(el("p", "cp-error", order.error === "not_found" ? "没有这个订单号。" : "订单系统暂时不可用。"));
      return;
    }
    var dl = el("dl");
    ORDER_FIELDS.forEach(function (field) {
      if (!order[field[0]]) return;
      dl.appendChild(el("dt", null, field[1]));
      dl.appendChild(el("dd", null, String(order[field[0]])));
    });
    box.appendChild(dl);
  }

  function candidate(c, rank) {
    var card = el("article", "cp-card");
    card.setAttribute("data-topic", c.topic);
    var head = el("header", "cp-card-head");
    head.appendChild(el("span", "cp-rank", String(rank)));
    head.appendChild(el("h3", "cp-question", c.question));
    head.appendChild(el("span", "cp-confidence", percent(c.confidence)));
    card.appendChild(head);
    var answer = el("div", "cp-answer");
    answer.appendChild(window.BeianMarkdown.render(c.answer));
    card.appendChild(answer);

    var actions = el("div", "cp-actions");
    var copy = el("button", "cp-copy", "复制答案");
    var used = el("button", "cp-used", VERDICTS.used);
    var wrong = el("button", "cp-wrong cp-secondary", VERDICTS.wrong);
    var status = el("span", "cp-status");
    status.setAttribute("role", "status");
    [copy, used, wrong].forEach(function (b) { b.type = "button"; actions.appendChild(b); });
    actions.appendChild(status);
    card.appendChild(actions);

    copy.addEventListener("click", function () {
      copyText(c.answer_plain).then(function () {
        card.setAttribute("data-copied", "true");
        copy.textContent = "已复制";
        setTimeout(function () { copy.textContent = "复制答案"; }, COPIED_MS);
      }, function () {
        status.textContent = "复制失败，请手动选择答案复制。";
      });
    });
    [["used", used], ["wrong", wrong]].forEach(function (pair) {
      pair[1].addEventListener("click", function () { feedback(c.topic, pair[0], card, [used, wrong], status); });
    });
    return card;
  }

  function feedback(topic, verdict, card, buttons, status) {
    if (!asked) return;
    var body = { topic: topic, text: asked.text, verdict: verdict, conversation_id: asked.conversation };
    withToken(function () {
      buttons.forEach(function (b) { b.disabled = true; });
      status.textContent = "";
      return api("POST", "feedback", body).then(function () {
        card.setAttribute("data-verdict", verdict);
        status.textContent = "已记录：" + VERDICTS[verdict];
      }, function (error) {
        buttons.forEach(function (b) { b.disabled = false; });
        throw error;
      });
    });
  }

  /* The clipboard API where the page may use it, else a selected textarea and execCommand. */
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }

  function fallbackCopy(text) {
    return new Promise(function (resolve, reject) {
      var area = el("textarea", "cp-offscreen");
      area.value = text;
      area.setAttribute("readonly", "");
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      area.remove();
      if (ok) resolve(); else reject(new Error("copy failed"));
    });
  }

  // --- transcripts --------------------------------------------------------------------------------

  function showTranscript() {
    var conversation = $("conversation").value.trim();
    if (!conversation) {
      showError("请先填写会话 ID。");
      return;
    }
    showError("");
    withToken(function () {
      return api("GET", "conversations/" + encodeURIComponent(conversation)).then(function (data) {
        var turns = $("turns");
        turns.textContent = "";
        (data.turns || []).forEach(function (t) {
          var item = el("li", "cp-turn cp-" + (t.who === "user" ? "user" : "bot"));
          var meta = (t.who === "user" ? "客户" : "助手") + (t.time ? " · " + t.time.slice(11, 19) : "");
          if (t.intent) meta += " · " + t.intent + " " + percent(t.confidence);
          if (t.faq_topic) meta += " · " + t.faq_topic.topic;
          item.appendChild(el("div", "cp-meta", meta));
          item.appendChild(el("div", "cp-text", t.text));
          turns.appendChild(item);
        });
        $("transcript").hidden = false;
      });
    });
  }

  // --- wiring -------------------------------------------------------------------------------------

  function start() {
    $("login-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var value = $("token").value.trim();
      if (!value) return;
      setToken(value);
      showWork();
      var next = pending;
      pending = null;
      if (next) withToken(next);
    });
    $("logout").addEventListener("click", function () {
      setToken(null);
      $("result").hidden = true;
      $("transcript").hidden = true;
      askToken("");
    });
    $("ask-form").addEventListener("submit", function (event) {
      event.preventDefault();
      suggest();
    });
    $("message").addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
        event.preventDefault();
        suggest();
      }
    });
    $("show-transcript").addEventListener("click", showTranscript);
    if (token()) showWork(); else askToken("");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
