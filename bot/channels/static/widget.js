/* 备案助手 web chat widget: plain JS, no build step.
 *
 * Embed:   <script src="https://<host>/webhooks/web/widget.js"></script>
 *          <script>BeianWidget.init({server: "https://<host>"})</script>
 * The widget loads markdown.js, socket.io.min.js and widget.css from where widget.js came from and
 * talks to Rasa's socket.io channel on `server` (default: that same host). The demo page
 * (/webhooks/web/) starts it full-page with <script src="widget.js" data-mode="page">.
 *
 * Rasa's socket.io channel does not replay a conversation, so the session id and the rendered
 * messages are kept in localStorage: after a reload the same conversation continues and shows.
 * Untrusted text is only ever set with textContent (markdown.js builds elements the same way).
 */
(function (global) {
  "use strict";

  var SCRIPT = document.currentScript;
  var BASE = SCRIPT && SCRIPT.src ? SCRIPT.src.replace(/[^\/]*([?#].*)?$/, "") : "/webhooks/web/";

  var TEXT = {
    title: "备案助手",
    subtitle: "ICP备案咨询",
    welcome: "您好，我是备案助手，可以回答ICP备案的问题、查询备案订单进度。请问有什么可以帮您？",
    placeholder: "请输入您的问题…",
    send: "发送",
    typing: "正在输入…",
    offline: "连接已断开，正在重连…",
    timeout: "暂时没有收到回复，请稍后再试，或拨打备案热线 4000-955-988转5 / 950808转5。",
    open: "在线咨询",
    close: "关闭",
    restart: "新对话"
  };
  var STARTERS = ["个人备案要准备什么材料", "管局审核要多久", "查询备案进度"];
  var MAX_INPUT = 500;
  var MAX_HISTORY = 200;
  var REPLY_TIMEOUT_MS = 30000;
  var KEY_SESSION = "beian.session";
  var KEY_HISTORY = "beian.history";
  var KEY_OPEN = "beian.open";

  // --- small helpers ------------------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function stored(storage, key, fallback) {
    try {
      var value = storage.getItem(key);
      return value == null ? fallback : JSON.parse(value);
    } catch (e) {  // storage disabled (private mode) or a damaged value
      return fallback;
    }
  }

  function store(storage, key, value) {
    try {
      storage.setItem(key, JSON.stringify(value));
    } catch (e) { /* full or disabled: the chat still works, it just will not survive a reload */ }
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = el("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(script);
    });
  }

  function loadStyle(href) {
    if (document.querySelector('link[data-beian-widget]')) return;
    var link = el("link");
    link.rel = "stylesheet";
    link.href = href;
    link.setAttribute("data-beian-widget", "");
    document.head.appendChild(link);
  }

  /* socket.io and the markdown renderer, unless the page has them already. */
  function dependencies(base) {
    loadStyle(base + "widget.css");
    var needed = [];
    if (!global.BeianMarkdown) needed.push(loadScript(base + "markdown.js"));
    if (!global.io) needed.push(loadScript(base + "socket.io.min.js"));
    return Promise.all(needed);
  }

  // --- the widget ---------------------------------------------------------------------------------

  function Widget(options) {
    this.options = options;
    this.page = options.mode === "page";
    this.session = stored(localStorage, KEY_SESSION, null);
    var history = stored(localStorage, KEY_HISTORY, null);
    this.history = history && history.session === this.session && Array.isArray(history.items) ? history.items : [];
    this.ready = false;
    this.replyTimer = null;
    this.build(options.container || document.body);
    this.history.forEach(function (item, i) { this.show(item, this.isCurrent(i)); }, this);
    this.connect();
  }

  Widget.prototype.build = function (container) {
    var root = el("div", "bw-root " + (this.page ? "bw-page" : "bw-float"));
    root.id = "beian-widget";
    root.lang = "zh-CN";
    var panel = el("section", "bw-panel");
    panel.setAttribute("aria-label", TEXT.title);

    var header = el("header", "bw-header");
    var heading = el("div", "bw-heading");
    heading.appendChild(el("strong", "bw-title", TEXT.title));
    heading.appendChild(el("span", "bw-subtitle", TEXT.subtitle));
    header.appendChild(heading);
    var restart = el("button", "bw-restart", TEXT.restart);
    restart.type = "button";
    restart.addEventListener("click", this.restart.bind(this));
    header.appendChild(restart);

    this.banner = el("div", "bw-banner", TEXT.offline);
    this.banner.setAttribute("role", "status");
    this.banner.hidden = true;

    this.log = el("div", "bw-log");
    this.log.setAttribute("role", "log");
    this.log.setAttribute("aria-live", "polite");
    this.welcome();

    this.typing = el("div", "bw-msg bw-bot bw-typing");
    this.typing.setAttribute("aria-label", TEXT.typing);
    this.typing.appendChild(el("span", "bw-dots"));
    this.typing.appendChild(el("span", "bw-typing-text", TEXT.typing));
    this.typing.hidden = true;
    this.log.appendChild(this.typing);  // always the last child: messages go in before it

    var form = el("form", "bw-form");
    this.input = el("textarea", "bw-input");
    this.input.rows = 1;
    this.input.maxLength = MAX_INPUT;
    this.input.placeholder = TEXT.placeholder;
    this.input.setAttribute("aria-label", TEXT.placeholder);
    this.sendButton = el("button", "bw-send", TEXT.send);
    this.sendButton.type = "submit";
    this.sendButton.disabled = true;  // until the server confirms the session
    form.appendChild(this.input);
    form.appendChild(this.sendButton);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      this.submit();
    }.bind(this));
    this.input.addEventListener("keydown", this.onKeydown.bind(this));

    panel.appendChild(header);
    panel.appendChild(this.banner);
    panel.appendChild(this.log);
    panel.appendChild(form);

    if (!this.page) {
      var close = el("button", "bw-close", "×");
      close.type = "button";
      close.setAttribute("aria-label", TEXT.close);
      close.addEventListener("click", this.toggle.bind(this, false));
      header.appendChild(close);
      var launcher = el("button", "bw-launcher", TEXT.open);
      launcher.type = "button";
      launcher.addEventListener("click", this.toggle.bind(this, true));
      root.appendChild(launcher);
    }
    root.appendChild(panel);
    container.appendChild(root);
    this.root = root;
    this.toggle(this.page || stored(sessionStorage, KEY_OPEN, false));
  };

  Widget.prototype.toggle = function (open) {
    this.root.classList.toggle("bw-open", !!open);
    if (!this.page) store(sessionStorage, KEY_OPEN, !!open);
    if (open) this.input.focus();
  };

  Widget.prototype.welcome = function () {
    var intro = el("div", "bw-msg bw-bot bw-welcome");
    intro.appendChild(el("div", "bw-bubble", TEXT.welcome));
    this.log.appendChild(intro);
    this.starters = this.quickReplies(STARTERS.map(function (q) { return { title: q, payload: q }; }));
    this.log.appendChild(this.starters);
    if (this.history.length) this.starters.remove();
  };

  // --- the conversation ---------------------------------------------------------------------------

  Widget.prototype.connect = function () {
    var server = this.options.server || BASE.replace(/\/webhooks\/web\/$/, "") || undefined;
    var settings = { path: this.options.path || "/socket.io", reconnectionDelayMax: 5000 };
    if (this.options.transports) settings.transports = this.options.transports;
    var socket = this.socket = global.io(server, settings);
    socket.on("connect", function () {
      // Every (re)connection is a new socket id: ask for the same session so replies reach us.
      socket.emit("session_request", { session_id: this.session });
    }.bind(this));
    socket.on("session_confirm", this.onSession.bind(this));
    socket.on(this.options.botEvent || "bot_uttered", this.onBotMessage.bind(this));
    socket.on("disconnect", this.setOnline.bind(this, false));
    socket.on("connect_error", this.setOnline.bind(this, false));
  };

  Widget.prototype.onSession = function (sessionId) {
    var id = typeof sessionId === "string" ? sessionId : sessionId && sessionId.session_id;
    if (!id) return;
    if (id !== this.session) {  // a new conversation: what was shown belonged to another one
      this.session = id;
      store(localStorage, KEY_SESSION, id);
      this.history = [];
      this.save();
    }
    this.setOnline(true);
  };

  Widget.prototype.setOnline = function (online) {
    this.ready = online;
    this.banner.hidden = online;
    this.sendButton.disabled = !online;
    this.root.classList.toggle("bw-offline", !online);
    if (!online) this.setTyping(false);
  };

  Widget.prototype.onBotMessage = function (message) {
    if (!message) return;
    var text = typeof message.text === "string" ? message.text : "";
    var buttons = (message.quick_replies || message.buttons || []).filter(function (b) {
      return b && typeof b.title === "string" && typeof b.payload === "string";
    }).map(function (b) { return { title: b.title, payload: b.payload }; });
    if (!text && !buttons.length) return;
    this.setTyping(false);
    this.add({ who: "bot", text: text, buttons: buttons });
  };

  Widget.prototype.onKeydown = function (event) {
    if (event.key !== "Enter" || event.shiftKey) return;
    // Enter confirms the IME's candidate while composing Chinese; it must not send the message.
    if (event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    this.submit();
  };

  Widget.prototype.submit = function () {
    var text = this.input.value.trim().slice(0, MAX_INPUT);
    if (!text || !this.ready) return;  // offline: the text stays in the box until we are back
    this.input.value = "";
    this.send(text, text);
  };

  Widget.prototype.send = function (title, payload) {
    if (!this.ready) return;
    this.removeQuickReplies();
    this.add({ who: "user", text: title });
    this.socket.emit(this.options.userEvent || "user_uttered", { message: payload, session_id: this.session });
    this.setTyping(true);
  };

  Widget.prototype.setTyping = function (on) {
    clearTimeout(this.replyTimer);
    this.typing.hidden = !on;
    if (on) {
      this.scroll();
      this.replyTimer = setTimeout(function () {
        this.typing.hidden = true;
        this.add({ who: "bot", text: TEXT.timeout, notice: true });
      }.bind(this), REPLY_TIMEOUT_MS);
    }
  };

  Widget.prototype.restart = function () {
    this.removeQuickReplies();
    this.session = null;
    this.history = [];
    try {
      localStorage.removeItem(KEY_SESSION);
      localStorage.removeItem(KEY_HISTORY);
    } catch (e) { /* storage disabled */ }
    this.log.textContent = "";
    this.welcome();
    this.log.appendChild(this.typing);
    if (this.socket && this.socket.connected) this.socket.emit("session_request", { session_id: null });
  };

  // --- rendering and history ----------------------------------------------------------------------

  Widget.prototype.add = function (item) {
    if (this.starters) this.starters.remove();
    this.history.push(item);
    if (this.history.length > MAX_HISTORY) this.history.splice(0, this.history.length - MAX_HISTORY);
    this.save();
    this.show(item, true);
  };

  Widget.prototype.save = function () {
    store(localStorage, KEY_HISTORY, { session: this.session, items: this.history });
  };

  /* Buttons count while no user message came after them (as in the live chat). */
  Widget.prototype.isCurrent = function (index) {
    for (var i = index + 1; i < this.history.length; i++) if (this.history[i].who === "user") return false;
    return true;
  };

  Widget.prototype.show = function (item, withButtons) {
    var row = el("div", "bw-msg " + (item.who === "user" ? "bw-user" : "bw-bot") + (item.notice ? " bw-notice" : ""));
    var bubble = el("div", "bw-bubble");
    if (item.who === "user") {
      bubble.textContent = item.text;  // the user's own words, never interpreted
    } else {
      bubble.appendChild(global.BeianMarkdown.render(item.text));
    }
    row.appendChild(bubble);
    this.log.insertBefore(row, this.typing);
    if (withButtons && item.buttons && item.buttons.length) this.log.insertBefore(this.quickReplies(item.buttons), this.typing);
    this.scroll();
  };

  Widget.prototype.quickReplies = function (buttons) {
    var box = el("div", "bw-quick");
    buttons.forEach(function (b) {
      var button = el("button", "bw-reply", b.title);
      button.type = "button";
      button.addEventListener("click", this.send.bind(this, b.title, b.payload));
      box.appendChild(button);
    }, this);
    return box;
  };

  Widget.prototype.removeQuickReplies = function () {
    Array.prototype.forEach.call(this.log.querySelectorAll(".bw-quick"), function (box) { box.remove(); });
  };

  Widget.prototype.scroll = function () {
    this.log.scrollTop = this.log.scrollHeight;
  };

  // --- the public face ----------------------------------------------------------------------------

  var widget = null;

  global.BeianWidget = {
    /* Starts the widget once: {server, mode: "float"|"page", container, path, transports}. */
    init: function (options) {
      options = options || {};
      if (widget) return Promise.resolve(widget);
      var base = options.assets || BASE;
      return dependencies(base).then(function () {
        if (!widget) widget = new Widget(options);
        global.BeianWidget.socket = widget.socket;  // for tests and for pages that want to listen too
        return widget;
      });
    },
    sessionId: function () { return widget ? widget.session : null; }
  };

  if (SCRIPT && SCRIPT.getAttribute("data-mode")) {
    var start = function () {
      global.BeianWidget.init({ mode: SCRIPT.getAttribute("data-mode"), server: SCRIPT.getAttribute("data-server") || undefined });
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  }
})(window);
