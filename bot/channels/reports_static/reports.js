// The reports page: asks for the agent token (kept in sessionStorage), fetches /data, and draws
// everything with textContent and createElementNS: no text from the data is ever parsed as HTML.
(function () {
  "use strict";
  var KEY = "copilot.token";  // the copilot's: one sign-in for both pages in a tab
  var SVG = "http://www.w3.org/2000/svg";
  var COLOURS = ["#0969da", "#1a7f37", "#bf8700", "#8250df", "#cf222e", "#57606a"];
  var KINDS = { fallback: "兜底", choices: "不确定", out_of_scope: "超出范围" };
  var base = location.pathname.replace(/\/?$/, "/");
  var $ = function (id) { return document.getElementById(id); };
  var labels = {};

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) node.textContent = String(text);
    return node;
  }
  function channelName(c) { return labels[c] ? labels[c] + "(" + c + ")" : c; }
  function channelsText(map) {
    return Object.keys(map || {}).map(function (c) { return channelName(c) + " " + map[c]; }).join("，");
  }
  function pct(x) { return x === null || x === undefined ? "" : " (" + Math.round(x * 100) + "%)"; }

  function askToken(message) {
    sessionStorage.removeItem(KEY);
    $("reports").hidden = true;
    $("period").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("status").textContent = "";
    $("token").value = "";
    $("token").focus();
  }

  function fill(tbody, rows, cells) {
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    if (!rows.length) {
      var tr = el("tr"), td = el("td", "这段时间没有数据", "muted");
      td.colSpan = 9;
      tr.appendChild(td);
      tbody.appendChild(tr);
      return;
    }
    rows.forEach(function (row) {
      var tr = el("tr");
      cells(row).forEach(function (cell) { tr.appendChild(cell); });
      tbody.appendChild(tr);
    });
  }
  function num(n) { return el("td", n, "num"); }
  function list(items) {
    var td = el("td"), ul = el("ul");
    items.forEach(function (t) { ul.appendChild(el("li", t)); });
    td.appendChild(ul);
    return td;
  }

  function dailyChart(days) {
    var channels = [];
    days.forEach(function (d) { Object.keys(d.channels).forEach(function (c) { if (channels.indexOf(c) < 0) channels.push(c); }); });
    channels.sort();
    var W = Math.max(420, 60 + days.length * 36), H = 260, left = 40, top = 20, bottom = 40, plotH = H - top - bottom;
    var max = Math.max(1, Math.max.apply(null, days.map(function (d) { return d.total; })));
    var chart = svg("svg", { width: W, height: H + 24 * Math.ceil(channels.length / 4), viewBox: "0 0 " + W + " " + (H + 24 * Math.ceil(channels.length / 4)), role: "img" });
    chart.appendChild(svg("title", {}, "每日用户消息数"));
    chart.appendChild(svg("line", { x1: left, y1: top + plotH, x2: W - 10, y2: top + plotH, stroke: "#57606a" }));
    chart.appendChild(svg("text", { x: left - 6, y: top + 4, "text-anchor": "end", "font-size": 11 }, max));
    chart.appendChild(svg("text", { x: left - 6, y: top + plotH, "text-anchor": "end", "font-size": 11 }, 0));
    var step = (W - left - 10) / Math.max(1, days.length), barW = Math.max(6, step * 0.6);
    days.forEach(function (d, i) {
      var x = left + i * step + (step - barW) / 2, y = top + plotH;
      channels.forEach(function (c, k) {
        var n = d.channels[c] || 0;
        if (!n) return;
        var h = n / max * plotH;
        y -= h;
        var bar = svg("rect", { x: x, y: y, width: barW, height: h, fill: COLOURS[k % COLOURS.length], "data-channel": c });
        bar.appendChild(svg("title", {}, d.day + " " + channelName(c) + ": " + n));
        chart.appendChild(bar);
      });
      if (d.total) chart.appendChild(svg("text", { x: x + barW / 2, y: y - 3, "text-anchor": "middle", "font-size": 10 }, d.total));
      if (days.length <= 16 || i % Math.ceil(days.length / 16) === 0) {
        chart.appendChild(svg("text", { x: x + barW / 2, y: top + plotH + 14, "text-anchor": "middle", "font-size": 10 }, d.day.slice(5)));
      }
    });
    channels.forEach(function (c, k) {
      var lx = left + (k % 4) * 150, ly = H + 24 * Math.floor(k / 4) - 6;
      chart.appendChild(svg("rect", { x: lx, y: ly - 10, width: 12, height: 12, fill: COLOURS[k % COLOURS.length] }));
      chart.appendChild(svg("text", { x: lx + 16, y: ly, "font-size": 12 }, channelName(c)));
    });
    var holder = $("daily-chart");
    while (holder.firstChild) holder.removeChild(holder.firstChild);
    holder.appendChild(chart);
  }

  function show(data) {
    labels = data.channel_labels || {};
    $("since").value = data.since;
    $("until").value = data.until;
    $("summary").textContent = data.since + " 至 " + data.until + "（北京时间）共 " + data.turns + " 条用户消息";
    dailyChart(data.daily);
    fill($("missed").tBodies[0], data.missed, function (g) {
      var kinds = Object.keys(g.kinds).map(function (k) { return (KINDS[k] || k) + " " + g.kinds[k]; }).join("，");
      return [num(g.count), el("td", g.suggested ? g.suggested + (g.question ? "：" + g.question : "") : "—"),
              el("td", kinds), list(g.examples)];
    });
    fill($("hot").tBodies[0], data.hot, function (r) {
      return [el("td", r.topic), el("td", r.question), num(r.count), el("td", channelsText(r.channels))];
    });
    fill($("quality").tBodies[0], data.quality, function (r) {
      return [el("td", r.topic + (r.question ? "：" + r.question : "")), num(r.conversations),
              num(r.escalated + pct(r.escalation_rate)), num(r.helpful), num(r.not_helpful)];
    });
    $("login").hidden = true;
    $("period").hidden = false;
    $("reports").hidden = false;
    $("status").textContent = "";
  }

  function load() {
    var token = sessionStorage.getItem(KEY);
    if (!token) return askToken();
    var q = new URLSearchParams();
    if ($("since").value) q.set("since", $("since").value);
    if ($("until").value) q.set("until", $("until").value);
    $("status").textContent = "加载中…";
    fetch(base + "data?" + q.toString(), { headers: { Authorization: "Bearer " + token }, cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) { askToken("令牌无效，请重新输入。"); return null; }
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body && body.error ? body.error : "HTTP " + r.status);
          return body;
        });
      })
      .then(function (data) { if (data) show(data); })
      .catch(function (e) { $("status").textContent = "加载失败：" + e.message; });
  }

  $("login").addEventListener("submit", function (e) {
    e.preventDefault();
    var token = $("token").value.trim();
    if (!token) return;
    sessionStorage.setItem(KEY, token);
    $("token").value = "";
    load();
  });
  $("period").addEventListener("submit", function (e) { e.preventDefault(); load(); });
  $("logout").addEventListener("click", function () { askToken(); });
  load();
})();
