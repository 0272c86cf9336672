// The tree viewer: reads the embedded run data, fills the detail panel on selection and
// draws the metric chart. Every value from the run is inserted as text, never as markup.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("aide-data").textContent);
  var byId = {};
  data.nodes.forEach(function (n) { byId[n.id] = n; });
  var buttons = Array.prototype.slice.call(document.querySelectorAll("button.node"));
  var order = data.nodes.map(function (n) { return n.id; });
  var detail = document.getElementById("detail");
  var current = null;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function link(id) {
    var n = byId[id];
    if (!n) return el("span", id);
    var a = el("a", "#" + n.step + " " + n.action);
    a.setAttribute("role", "button");
    a.tabIndex = 0;
    a.addEventListener("click", function () { select(id, true); });
    return a;
  }
  function row(dl, label, value) {
    dl.appendChild(el("dt", label));
    var dd = el("dd");
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = String(value);
    dl.appendChild(dd);
  }
  function section(title, body, asCode) {
    if (body === null || body === undefined || body === "") return;
    detail.appendChild(el("h3", title));
    detail.appendChild(asCode ? el("pre", body) : el("p", body, "text"));
  }
  function fmt(v) { return v === null || v === undefined ? "—" : String(v); }

  function render(n) {
    detail.textContent = "";
    var h = el("h2", "Step " + n.step + " · " + n.action + " · ");
    h.appendChild(el("span", n.state_label, "chip " + n.state));
    detail.appendChild(h);
    var dl = el("dl");
    row(dl, "metric", n.metric === null ? (n.state === "inflight" ? "not reviewed yet" : "none (buggy)") : n.metric);
    row(dl, "best so far", fmt(n.best_so_far));
    row(dl, "node id", n.id);
    row(dl, "parent", n.parent ? link(n.parent) : "none (draft)");
    if (n.partner) row(dl, "merged with", link(n.partner));
    if (n.children.length) {
      var span = el("span");
      n.children.forEach(function (c, i) { if (i) span.appendChild(document.createTextNode(", ")); span.appendChild(link(c)); });
      row(dl, "children", span);
    }
    row(dl, "stage", n.stage);
    row(dl, "debug depth", n.debug_depth);
    if (n.exec_time !== null) row(dl, "execution time", n.exec_time.toFixed(2) + " s" + (n.timed_out ? " (timed out)" : ""));
    if (n.exit_code !== null) row(dl, "exit code", n.exit_code);
    if (n.exc_type) row(dl, "exception", n.exc_type);
    detail.appendChild(dl);
    if (n.bug_reasons && n.bug_reasons.length) {
      detail.appendChild(el("h3", "Why buggy"));
      var ul = el("ul", null, "reasons");
      n.bug_reasons.forEach(function (r) { ul.appendChild(el("li", r)); });
      detail.appendChild(ul);
    }
    section("Plan", n.plan, false);
    section("Review", n.summary, false);
    section("Code", n.code, true);
    section("Output", n.output, true);
    section("Raw reply (no code found)", n.raw_reply, true);
  }

  function select(id, focus) {
    var n = byId[id];
    if (!n) return;
    current = id;
    buttons.forEach(function (b) {
      var on = b.getAttribute("data-id") === id;
      b.classList.toggle("selected", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
      if (on && focus) b.focus();
    });
    render(n);
    if (history.replaceState) history.replaceState(null, "", "#" + id);
  }

  buttons.forEach(function (b) {
    b.addEventListener("click", function () { select(b.getAttribute("data-id"), false); });
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    var i = order.indexOf(current);
    var j = e.key === "ArrowDown" ? Math.min(order.length - 1, i + 1) : Math.max(0, i - 1);
    if (i < 0) j = 0;
    if (order[j]) { select(order[j], true); e.preventDefault(); }
  });

  function drawChart() {
    var canvas = document.getElementById("chart");
    var good = data.nodes.filter(function (n) { return n.metric !== null; });
    if (!canvas.getContext || !good.length) { canvas.style.display = "none"; return; }
    var ratio = window.devicePixelRatio || 1;
    var w = canvas.clientWidth || 360, h = canvas.clientHeight || 110;
    canvas.width = w * ratio; canvas.height = h * ratio;
    var c = canvas.getContext("2d");
    c.scale(ratio, ratio);
    var pad = { l: 46, r: 8, t: 14, b: 16 };
    var steps = data.nodes.map(function (n) { return n.step; });
    var x0 = Math.min.apply(null, steps), x1 = Math.max.apply(null, steps);
    var ys = good.map(function (n) { return n.metric; });
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    if (y0 === y1) { y0 -= 1; y1 += 1; }
    function X(s) { return pad.l + (x1 === x0 ? 0.5 : (s - x0) / (x1 - x0)) * (w - pad.l - pad.r); }
    function Y(v) { return pad.t + (1 - (v - y0) / (y1 - y0)) * (h - pad.t - pad.b); }
    c.font = "10px system-ui, sans-serif";
    c.fillStyle = "#5f6b76";
    c.fillText("metric by step" + (data.run.direction ? " (" + data.run.direction + ")" : ""), pad.l, 10);
    c.fillText(String(+y1.toPrecision(4)), 2, pad.t + 8);
    c.fillText(String(+y0.toPrecision(4)), 2, h - pad.b);
    c.strokeStyle = "#b26a00"; c.lineWidth = 1.5; c.beginPath();
    var started = false;
    data.nodes.forEach(function (n) {
      if (n.best_so_far === null) return;
      if (!started) { c.moveTo(X(n.step), Y(n.best_so_far)); started = true; }
      else c.lineTo(X(n.step), Y(n.best_so_far));
    });
    c.stroke();
    data.nodes.forEach(function (n) {
      if (n.metric !== null) {
        c.fillStyle = n.state === "best" ? "#b26a00" : "#2e7d32";
        c.beginPath(); c.arc(X(n.step), Y(n.metric), n.state === "best" ? 4 : 3, 0, 7); c.fill();
      } else if (n.state === "buggy") {
        c.fillStyle = "#c62828"; c.fillRect(X(n.step) - 1, h - pad.b + 4, 2, 8);
      }
    });
  }

  drawChart();
  var wanted = decodeURIComponent(location.hash.slice(1));
  select(byId[wanted] ? wanted : (data.best || (order.length ? order[order.length - 1] : null)), false);
})();
