// The agent desk: ticket list, one ticket's conversation, replies, notes and status changes.
"use strict";

(() => {
  const {api, h, poll, fmtTime, say, list} = ZK;
  const $ = (id) => document.getElementById(id);
  const status = $("desk-status");
  let tickets = [];
  let users = {};          // id -> user
  let current = null;      // selected ticket id (string)

  const userName = (id) => {
    if (id === undefined || id === null) return "—";
    const u = users[String(id)];
    return u ? (u.name || u.email || `user ${id}`) : `user ${id}`;
  };
  const tagsOf = (t) => (Array.isArray(t.tags) ? t.tags : []);
  const lower = (s) => String(s || "").toLowerCase();
  // "sms_optout_request" may wrap after an underscore, not inside a word, in a narrow column
  const breakable = (s) => String(s).split("_").flatMap((p, i) => (i ? ["_", h("wbr", {}), p] : [p]));

  async function loadUsers() {
    const data = await api("GET", "/_sandbox/zendesk/users");
    const next = {};
    for (const u of list(data, "users", "data")) next[String(u.id)] = u;
    users = next;
  }

  let shownList = "";
  let shownDetail = "";
  async function loadTickets() {
    const data = await api("GET", "/_sandbox/zendesk/tickets");
    tickets = list(data, "tickets", "data").slice().sort((a, b) => Number(b.id) - Number(a.id));
    const ids = new Set();
    for (const t of tickets) {
      ids.add(t.requester_id);
      ids.add(t.assignee_id);
      for (const c of t.comments || []) ids.add(c.author_id);
    }
    if ([...ids].some((id) => id !== undefined && id !== null && !users[String(id)])) {
      await loadUsers();
    }
    render();
  }

  function render() {
    const listKey = JSON.stringify([current, tickets.map((t) =>
      [t.id, t.subject, t.status, t.tags, t.requester_id, t.updated_at, userName(t.requester_id),
       t.desk_flags])]);
    if (listKey !== shownList) {
      shownList = listKey;
      $("tickets").replaceChildren(...tickets.map(row));
      $("tickets-empty").hidden = tickets.length > 0;
    }
    const t = tickets.find((x) => String(x.id) === current);
    $("detail").hidden = !t;
    if (!t) return;
    const detailKey = JSON.stringify([t, Object.keys(users).length]);
    if (detailKey !== shownDetail) {
      shownDetail = detailKey;
      showTicket(t);
    }
  }

  // S9: the conversation's channel at a glance, from the ticket's `whatsapp` / `sms` tag.
  function channelBadge(t) {
    const tags = tagsOf(t);
    const channel = tags.includes("whatsapp") ? "whatsapp" : tags.includes("sms") ? "sms" : "";
    if (!channel) return [];
    return [h("span", {class: `badge-${channel}`, testid: "channel-badge", "data-channel": channel,
                       title: channel === "whatsapp" ? "WhatsApp conversation (S9)" : "SMS"},
              channel === "whatsapp" ? "WhatsApp" : "SMS"), " "];
  }

  function row(t) {
    const tr = h("tr", {testid: "ticket-row", "data-ticket-id": t.id,
                        class: String(t.id) === current ? "selected" : ""},
      h("td", {}, `#${t.id}`),
      h("td", {class: "subject"}, ...channelBadge(t), t.subject || "(no subject)",
        ...DeskHolds.badges(t)),
      h("td", {}, h("span", {class: `badge s-${lower(t.status)}`, testid: "ticket-row-status"},
                    lower(t.status))),
      h("td", {class: "tags"}, ...tagsOf(t).flatMap((x, i) => [i ? " " : "", ...breakable(x)])),
      h("td", {}, userName(t.requester_id)),
      h("td", {class: "time"}, fmtTime(t.updated_at)));
    tr.addEventListener("click", () => select(String(t.id)));
    return tr;
  }

  function select(id) {
    current = id;
    history.replaceState(null, "", id ? `#ticket-${id}` : "#");
    shownDetail = "";
    say(status, "");
    render();
  }

  function showTicket(t) {
    $("t-id").textContent = `#${t.id}`;
    $("t-subject").replaceChildren(...channelBadge(t), t.subject || "(no subject)");
    $("t-status").textContent = lower(t.status);
    $("t-status").className = `badge s-${lower(t.status)}`;
    const via = (t.via && t.via.channel) || t.channel;
    const meta = [
      ["Requester", `${userName(t.requester_id)}${requesterEmail(t)}`],
      ["Assignee", t.assignee_id ? userName(t.assignee_id) : "—"],
      ["Channel", via || "—"],
      ["Brand", t.brand_id ? String(t.brand_id) : "—"],   // E7: one Zendesk, several brands
      ["Created", fmtTime(t.created_at)],
      ["Updated", fmtTime(t.updated_at)],
    ];
    if (t.via_followup_source_id) meta.push(["Follow-up of", `#${t.via_followup_source_id}`]);
    if (t.external_id) meta.push(["External id", t.external_id]);
    for (const f of t.fields_shown || []) meta.push([f.title, String(f.value)]);
    $("t-meta").replaceChildren(...meta.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    $("comments").replaceChildren(...(t.comments || []).map((c) => comment(c, t)));

    const closed = lower(t.status) === "closed";
    $("t-flags").replaceChildren(...DeskHolds.panel(t, changeTags, closed));
    for (const el of $("reply").querySelectorAll("textarea, input, button, select")) {
      el.disabled = closed;
    }
    $("closed-hint").hidden = !closed;
  }

  function requesterEmail(t) {
    const u = users[String(t.requester_id)];
    return u && u.email ? ` <${u.email}>` : "";
  }

  function comment(c, t) {
    const isPublic = c.public !== false;
    const u = users[String(c.author_id)];
    const staff = u && ["agent", "admin"].includes(lower(u.role));
    const files = (c.attachments || []).map((a) =>
      h("li", {}, h("a", {href: a.content_url, target: "_blank", rel: "noopener"},
                    a.file_name || a.content_url)));
    return h("li", {class: `comment ${isPublic ? "public" : "internal"}`, testid: "comment",
                    "data-public": String(isPublic), "data-comment-id": c.id},
      h("div", {class: "comment-head"},
        h("strong", {}, userName(c.author_id)),
        staff ? h("span", {class: "chip"}, "staff") : null,
        h("span", {class: `chip ${isPublic ? "c-public" : "c-internal"}`,
                   testid: "comment-kind"}, isPublic ? "public" : "internal note"),
        DeskHolds.noteChip(t, c),
        h("span", {class: "time"}, fmtTime(c.created_at))),
      h("div", {class: "body", testid: "comment-body"}, c.body || ""),
      files.length ? h("ul", {class: "attachments", testid: "attachments"}, files) : null);
  }

  // ---- actions ----
  const act = (what, fn) => ZK.act(status, what, fn, () => [loadTickets()]);

  const kind = () => document.querySelector("input[name=kind]:checked").value;
  function showKind() {
    const internal = kind() === "internal";
    $("reply").classList.toggle("internal", internal);
    $("reply-submit").textContent = internal ? "Add internal note" : "Send public reply";
  }
  for (const r of document.querySelectorAll("input[name=kind]")) r.addEventListener("change", showKind);

  $("reply").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = current;
    const isPublic = kind() === "public";
    const url = $("reply-attachment").value.trim();
    const body = {author_id: Number($("agent").value), body: $("reply-body").value, public: isPublic};
    if (url) body.attachments = [{file_name: url.split("/").pop() || "file", content_url: url}];
    act(isPublic ? "Sending reply" : "Adding note", async () => {
      await api("POST", `/_sandbox/zendesk/tickets/${id}/comments`, body);
      $("reply-body").value = "";
      $("reply-attachment").value = "";
      return isPublic ? `Public reply added to #${id} → ticket.comment_added.`
                      : `Internal note added to #${id} → ticket.comment_added (not public).`;
    });
  });

  // A tag change from the desk (DeskHolds' buttons): fires ticket.tags_changed (A8, S10).
  function changeTags({add = [], remove = []}) {
    const id = current;
    act(`Changing #${id}'s tags`, async () => {
      await api("POST", `/_sandbox/zendesk/tickets/${id}/tags`,
                {add, remove, actor_id: Number($("agent").value)});
      const said = [...add.map((x) => `+${x}`), ...remove.map((x) => `−${x}`)].join(" ");
      return `#${id} tags ${said} → ticket.tags_changed.`;
    });
  }

  function setStatus(value, silent) {
    const id = current;
    act(`Setting #${id} ${value}`, async () => {
      await api("POST", `/_sandbox/zendesk/tickets/${id}/status`,
                {status: value, actor_id: Number($("agent").value), silent});
      return silent ? `#${id} closed silently: no webhook sent (as Zendesk's auto-close).`
                    : `#${id} is now ${value} → ticket.status_changed.`;
    });
  }
  for (const b of document.querySelectorAll("#reply button[data-status]")) {
    b.addEventListener("click", () => setStatus(b.dataset.status, b.dataset.silent === "1"));
  }
  $("other-status").addEventListener("change", (ev) => {
    if (ev.target.value) setStatus(ev.target.value, false);
    ev.target.value = "";
  });

  // ---- new ticket ----
  const form = $("new-ticket");
  $("new-ticket-toggle").addEventListener("click", () => {
    form.hidden = !form.hidden;
    if (!form.hidden) $("nt-email").focus();
  });
  $("new-ticket-cancel").addEventListener("click", () => { form.hidden = true; });
  $("nt-email").addEventListener("change", () => {   // a known customer: fill in their name
    const known = [...$("known-emails").options].find((o) => o.value === $("nt-email").value.trim());
    if (known && !$("nt-name").value) $("nt-name").value = known.dataset.name;
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const tags = $("nt-tags").value.split(/[,\s]+/).filter(Boolean);
    act("Creating ticket", async () => {
      const r = await api("POST", "/_sandbox/zendesk/tickets", {
        requester_email: $("nt-email").value.trim(), requester_name: $("nt-name").value.trim(),
        subject: $("nt-subject").value,
        body: $("nt-body").value, channel: "web", tags,
      });
      const t = (r && r.ticket) || r || {};
      form.reset();
      form.hidden = true;
      if (t.id !== undefined) select(String(t.id));
      return `Ticket #${t.id} created → ticket.created.`;
    });
  });

  const m = /^#ticket-(\d+)$/.exec(location.hash);
  if (m) current = m[1];
  showKind();
  poll(loadTickets, 1000, (e) => say(status, `Cannot read tickets: ${e.message}`, "error"));
})();
