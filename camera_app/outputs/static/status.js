"use strict";
(function () {
  function show(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(1);
    if (Array.isArray(v)) return v.map(show).join(", ");
    if (typeof v === "object") {
      return Object.values(v).filter(function (x) { return x !== null && x !== ""; })
        .map(show).join(": ");
    }
    return String(v);
  }
  function fill(selector, attribute, values) {
    document.querySelectorAll(selector).forEach(function (el) {
      var key = el.getAttribute(attribute);
      if (Object.prototype.hasOwnProperty.call(values, key)) el.textContent = show(values[key]);
    });
  }
  function list(el, rows, empty) {
    while (el.firstChild) el.removeChild(el.firstChild);
    if (!rows.length) rows = [[null, empty]];
    rows.forEach(function (row) {
      var li = document.createElement("li");
      if (row[0]) {
        var img = document.createElement("img");
        img.className = "shot";
        img.src = row[0];
        img.alt = "snapshot";
        li.appendChild(img);
      }
      var span = document.createElement("span");
      span.textContent = row[1];
      li.appendChild(span);
      el.appendChild(li);
    });
  }
  function objects(card, o) {
    var seen = card.querySelector('[data-objects="in_view"]');
    var events = card.querySelector('[data-objects="events"]');
    if (!seen || !events) return;
    list(seen, (o.objects || []).map(function (x) {
      var zones = x.zones && x.zones.length ? " in " + show(x.zones) : "";
      return [null, show(x.label) + " " + show(x.score) + zones + " since " + show(x.since)];
    }), "nothing");
    list(events, (o.recent_events || []).map(function (e) {
      var url = typeof e.snapshot_url === "string" && e.snapshot_url.indexOf("/snapshots/") === 0
        ? e.snapshot_url : null;
      return [url, [e.type, e.label, e.score, e.last_seen, e.zones].map(show).join(" ")];
    }), "none yet");
  }
  function update(status) {
    var byName = {};
    (status.cameras || []).forEach(function (c) { byName[c.name] = c; });
    document.querySelectorAll("article[data-camera]").forEach(function (card) {
      var cam = byName[card.getAttribute("data-camera")];
      if (!cam) return;
      card.setAttribute("data-state", show(cam.state));
      card.querySelectorAll("[data-field]").forEach(function (el) {
        el.textContent = show(cam[el.getAttribute("data-field")]);
      });
      if (cam.objects) objects(card, cam.objects);
    });
    fill("[data-summary]", "data-summary", status);
    fill("[data-model]", "data-model", status.model || {});
  }
  function refresh() {
    var updated = document.getElementById("updated");
    fetch("/api/status", { cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (status) {
        update(status);
        updated.textContent = "updated " + new Date().toLocaleTimeString();
      })
      .catch(function (e) { updated.textContent = "status unavailable (" + e.message + ")"; });
  }
  refresh();
  setInterval(refresh, 2000);
})();
