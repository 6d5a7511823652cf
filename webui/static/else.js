// ELSE web UI behaviour. Loaded as an external file (the CSP forbids inline script).
// Everything here is progressive: the pages work without it.
"use strict";

(function () {
  // The browser's time zone, sent with the log-in form (times are shown in it).
  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  }
  document.querySelectorAll("input.js-tz").forEach(function (el) { el.value = browserZone(); });
  document.querySelectorAll("button.js-tz-browser").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var zone = browserZone();
      var select = btn.form.querySelector("select.js-tz-select");
      if (!select || !zone) { return; }
      for (var i = 0; i < select.options.length; i++) {
        if (select.options[i].value === zone) { select.selectedIndex = i; btn.form.submit(); return; }
      }
    });
  });

  // Queue control and deletions: ask first. Without script the server shows a confirm page.
  document.querySelectorAll("form.js-confirm").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      var question = form.getAttribute("data-confirm") || "Are you sure?";
      if (!window.confirm(question)) { ev.preventDefault(); return; }
      var flag = form.querySelector("input.js-confirmed");
      if (flag) { flag.value = "yes"; }
    });
  });

  // Queue listing: one box selects every listed message for the bulk action.
  var selectAll = document.getElementById("select-all");
  if (selectAll) {
    selectAll.addEventListener("change", function () {
      document.querySelectorAll("input.pick").forEach(function (box) { box.checked = selectAll.checked; });
    });
  }

  // Live page: fetch the newest e-mails and rejects as JSON and rebuild the two tables.
  // Text goes in with textContent only: log data never becomes markup.
  var liveUrl = document.body.getAttribute("data-live");
  if (!liveUrl) { return; }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  // The status vocabulary comes from the page (else_core.model.EMAIL_STATUSES): one list.
  var STATUSES = (document.body.getAttribute("data-statuses") || "").split(" ");
  function badge(status) {
    var safe = STATUSES.indexOf(status) >= 0 ? status : "unknown";
    return el("span", "badge s-" + safe, status);
  }
  function emailRow(m) {
    var tr = el("tr");
    var td = el("td", "nowrap");
    var a = el("a", null, m.when);
    a.href = "/email/" + encodeURIComponent(m.id);
    td.appendChild(a); tr.appendChild(td);
    tr.appendChild(el("td", "addr", m.sender));
    var r = el("td", "rcpts");
    (m.recipients || []).forEach(function (x) {
      var span = el("span", "rcpt");
      span.appendChild(badge(x.status));
      span.appendChild(document.createTextNode(" "));
      span.appendChild(el("span", "addr", x.address));
      r.appendChild(span);
    });
    tr.appendChild(r);
    tr.appendChild(el("td", null, m.host));
    return tr;
  }
  function rejectRow(j) {
    var tr = el("tr");
    tr.appendChild(el("td", "nowrap", j.when));
    tr.appendChild(el("td", "addr", (j.client || "") + " [" + (j.client_ip || "") + "]"));
    tr.appendChild(el("td", "reason", (j.code || "") + " " + (j.reason || "")));
    return tr;
  }
  function fill(id, rows, make) {
    var body = document.getElementById(id);
    if (!body) { return; }
    var fresh = document.createDocumentFragment();
    rows.forEach(function (row) { fresh.appendChild(make(row)); });
    body.replaceChildren(fresh);
  }
  // Pause: the tables stay as they are (to read or copy a line) until resumed.
  var paused = false;
  var pause = document.getElementById("live-pause");
  var state = document.getElementById("live-state");
  if (pause) {
    pause.addEventListener("click", function () {
      paused = !paused;
      pause.textContent = paused ? "Resume" : "Pause";
      pause.setAttribute("aria-pressed", paused ? "true" : "false");
      if (state) { state.textContent = paused ? "paused" : "refreshes every 5 s"; }
      document.body.classList.toggle("paused", paused);
      if (!paused) { refresh(); }
    });
  }
  function refresh() {
    if (paused) { return; }
    fetch(liveUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (res) { if (!res.ok) { throw new Error(res.status); } return res.json(); })
      .then(function (data) {
        fill("live-emails", data.emails || [], emailRow);
        fill("live-rejects", data.rejects || [], rejectRow);
        var at = document.getElementById("live-at");
        if (at) { at.textContent = data.at; }
        document.body.classList.remove("stale");
      })
      .catch(function () { document.body.classList.add("stale"); });
  }
  window.setInterval(refresh, 5000);
})();
