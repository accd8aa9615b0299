// Shared helpers for the sandbox pages. All data goes into the page as text nodes (never innerHTML).
"use strict";

const ZK = (() => {
  async function api(method, path, body) {
    const init = {method, headers: {Accept: "application/json"}};
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(path, init);
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    if (!resp.ok) {
      const detail = typeof data === "string" ? data
        : (data && typeof data.error === "string")
          ? [data.error, data.description].filter(Boolean).join(": ") : JSON.stringify(data);
      throw new Error(`${method} ${path} answered ${resp.status}: ${(detail || "").slice(0, 300)}`);
    }
    return data;
  }

  // h("li", {class: "x", testid: "y", title: "z"}, "text", childNode, ...)
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "testid") el.dataset.testid = v;
      else if (k === "href") el.href = safeUrl(v);
      else el.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function safeUrl(u) {
    try {
      const url = new URL(String(u), location.href);
      return ["http:", "https:"].includes(url.protocol) ? url.href : "#";
    } catch (e) { return "#"; }
  }

  // Run fn now and then every ms, never two at once; errors go to onError (default: console).
  function poll(fn, ms, onError) {
    let stopped = false;
    async function tick() {
      if (stopped) return;
      try { await fn(); } catch (e) { (onError || console.warn)(e); }
      if (!stopped) setTimeout(tick, ms);
    }
    tick();
    return () => { stopped = true; };
  }

  function toDate(v) {
    if (v === undefined || v === null || v === "") return null;
    if (typeof v === "number") return new Date(v < 1e12 ? v * 1000 : v);
    const d = new Date(v);
    return isNaN(d) ? null : d;
  }

  function fmtTime(v) {
    const d = toDate(v);
    if (!d) return "";
    const sameDay = d.toDateString() === new Date().toDateString();
    return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
  }

  // "+15005550101" -> "+1500•••0101": enough to tell customers apart, not a full number on screen.
  function maskPhone(p) {
    const s = String(p || "");
    return s.length > 8 ? `${s.slice(0, 5)}•••${s.slice(-4)}` : s;
  }

  function say(el, msg, kind) {
    el.textContent = msg;
    el.className = `status ${kind || ""}`;
  }

  // The first list found in an admin answer: [..] or {"tickets": [..]} / {"data": [..]} etc.
  function list(data, ...keys) {
    if (Array.isArray(data)) return data;
    for (const k of keys) if (data && Array.isArray(data[k])) return data[k];
    return [];
  }

  // ---- webhook deliveries, in the top bar of every page ----
  function eventNames(d) {
    try {
      const body = JSON.parse(d.body);
      if (body.type) return String(body.type).replace("zen:event-type:", "");
      if (Array.isArray(body.data)) {
        return body.data.map((e) => String(e.topic || "").replace("event:klaviyo.", "")).join(", ");
      }
    } catch (e) { /* not JSON: show nothing */ }
    return "";
  }

  let lastDeliveries = "";
  async function refreshWebhooks() {
    const summary = document.querySelector("[data-testid=webhooks-summary]");
    const tbody = document.querySelector("[data-testid=webhooks-list]");
    if (!summary) return;
    const [data, config] = await Promise.all([api("GET", "/_sandbox/deliveries"),
                                              api("GET", "/_sandbox/config")]);
    const deliveries = list(data, "deliveries", "data");
    const unset = ["zendesk", "klaviyo"].filter((v) => !config[`${v}_webhook_url`]);
    const key = JSON.stringify([unset, deliveries.map((d) =>
      [d.id, d.status, (d.attempts || []).length])]);
    if (key === lastDeliveries) return;
    lastDeliveries = key;
    const counts = {};
    for (const d of deliveries) counts[d.status] = (counts[d.status] || 0) + 1;
    const parts = Object.entries(counts).map(([s, n]) => `${n} ${s}`);
    summary.textContent = (deliveries.length ? `${deliveries.length} (${parts.join(", ")})`
                                             : "none yet")
      + (unset.length ? ` · no URL set for ${unset.join(" and ")}` : "");
    summary.closest("details").classList.toggle(
      "warn", !!(counts.dropped || counts.pending || unset.length));
    tbody.replaceChildren(...deliveries.slice().reverse().slice(0, 50).map((d) => {
      const last = (d.attempts || [])[d.attempts.length - 1] || {};
      return h("tr", {testid: `delivery-${d.id}`, class: `d-${d.status}`},
        h("td", {}, d.id), h("td", {}, d.source), h("td", {}, eventNames(d)),
        h("td", {}, d.status), h("td", {}, (d.attempts || []).length),
        h("td", {}, last.status || last.error || ""));
    }));
  }
  document.addEventListener("DOMContentLoaded", () => poll(refreshWebhooks, 2000));

  // A page's action (send, reply, set status...): "busy" in the status line while it runs, then
  // its result or its error; then the page's own lists (`reload()` starts their loads) and the
  // webhook bar are refreshed whatever happened, since a failed call may still have changed state.
  async function act(statusEl, what, fn, reload) {
    say(statusEl, `${what}…`, "busy");
    try {
      say(statusEl, await fn(), "ok");
    } catch (e) {
      say(statusEl, `${what} failed: ${e.message}`, "error");
    }
    await Promise.allSettled([...reload(), refreshWebhooks()]);
  }

  return {api, h, poll, fmtTime, toDate, maskPhone, say, list, safeUrl, refreshWebhooks, act};
})();
