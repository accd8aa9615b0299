// The Klaviyo events page: the admin API's event list as a readable table.
"use strict";

(() => {
  const {api, h, poll, fmtTime} = ZK;
  const $ = (id) => document.getElementById(id);
  let shown = "";

  async function load() {
    const metric = $("events-metric").value;
    // E7: the Klaviyo account the page shows (`/events?account=bolt`)
    const account = document.querySelector("[data-account]").dataset.account;
    const path = `/_sandbox/klaviyo/events?account=${encodeURIComponent(account)}` +
      (metric ? `&metric=${encodeURIComponent(metric)}` : "");
    const events = (await api("GET", path)).slice().reverse();
    const key = JSON.stringify(events);
    if (key === shown) return;
    shown = key;
    $("events-count").textContent = `${events.length} event(s)`;
    const rows = events.map((e) => {
      const p = e.properties || {};
      return h("tr", {testid: "event-row"},
        h("td", {}, fmtTime(e.datetime || e.timestamp)),
        h("td", {testid: "event-metric"}, e.metric || ""),
        h("td", {}, e.profile_id || ""),
        h("td", {}, p.Ticket_id === undefined ? "" : String(p.Ticket_id)),
        h("td", {}, p.Status || ""),
        h("td", {}, p.Subject || ""),
        h("td", {}, e.backfill ? "yes" : ""),
        h("td", {}, h("code", {}, e.unique_id || "")));
    });
    $("events-list").replaceChildren(...(rows.length ? rows
      : [h("tr", {}, h("td", {colspan: "8", class: "muted"}, "no events yet"))]));
  }

  $("events-metric").addEventListener("change", () => { shown = ""; load(); });
  poll(load, 2000);
})();
