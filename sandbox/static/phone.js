// The customer's phone: texts to a brand number, the brand's replies, consent, campaign SMS.
"use strict";

(() => {
  const {api, h, poll, fmtTime, maskPhone, say, list} = ZK;
  const $ = (id) => document.getElementById(id);
  const status = $("phone-status");
  // E7: the shop (Klaviyo account) this phone is a customer of (`/phone?account=bolt`)
  const account = document.querySelector("[data-account]").dataset.account;
  const at = (path) => `${path}${path.includes("?") ? "&" : "?"}account=${encodeURIComponent(account)}`;
  let profiles = {};   // id -> {id, name, phone, email, marketing, transactional}

  // Admin profiles may be flat or JSON:API-shaped; read both in this one place.
  function readProfile(p) {
    const a = p.attributes || {};
    const sms = ((a.subscriptions || {}).sms) || {};
    const consent = (x) => (x && typeof x === "object" ? x.consent : x);
    return {
      id: p.id,
      name: [p.first_name ?? a.first_name, p.last_name ?? a.last_name].filter(Boolean).join(" "),
      phone: p.phone ?? p.phone_number ?? a.phone_number,
      email: p.email ?? a.email,
      marketing: consent(p.sms_marketing ?? (p.consent || {}).sms_marketing ?? sms.marketing),
      transactional: consent(p.sms_transactional ?? (p.consent || {}).sms_transactional
                             ?? sms.transactional),
      conversation: p.conversation || null,   // {id, brand_number}: where replies go out
      whatsapp: p.can_receive_whatsapp,        // S9: any WhatsApp consent
    };
  }

  const selected = () => profiles[$("profile").value] || {
    id: $("profile").value, phone: $("profile").selectedOptions[0].dataset.phone,
  };

  function consentChip(value) {
    const v = value || "unknown";
    return h("span", {class: `chip c-${v.toLowerCase()}`}, v.replace("_", " ").toLowerCase());
  }

  function showProfile() {
    const p = selected();
    $("profile-phone").replaceChildren(h("span", {title: p.phone || ""}, maskPhone(p.phone)));
    $("profile-email").textContent = p.email || "—";
    $("consent-marketing").replaceChildren(consentChip(p.marketing));
    $("consent-transactional").replaceChildren(consentChip(p.transactional));
    $("consent-whatsapp").replaceChildren(consentChip(
      p.whatsapp === undefined ? "unknown" : p.whatsapp ? "subscribed" : "not_subscribed"));
    $("profile-conversation").textContent = p.conversation
      ? `replies come from ${p.conversation.brand_number}` : "none yet (text the brand first)";
    $("thread-title").textContent = `${p.name || "Customer"} ⇄ ${
      $("all-numbers").checked ? "all brand numbers" : $("brand").value}${wa() ? " · WhatsApp" : ""}`;
    document.querySelector(".phone").classList.toggle("whatsapp", wa());
    $("wa-hint").hidden = !wa();
    $("message").placeholder = wa() ? "WhatsApp message" : "Text message";
    $("media-url").hidden = wa();     // the sandbox's WhatsApp carries text only
  }

  // S9: the toggle switches the thread and the composer between SMS and WhatsApp.
  const wa = () => $("whatsapp").checked;
  const channelOf = (m) => m.channel || "sms";

  async function loadProfiles() {
    const data = await api("GET", at("/_sandbox/klaviyo/profiles"));
    const next = {};
    for (const raw of list(data, "profiles", "data")) {
      const p = readProfile(raw);
      next[p.id] = p;
    }
    profiles = next;
    // profiles made later (a text from an unknown number) join the seed ones in the picker
    const select = $("profile");
    for (const p of Object.values(next)) {
      if (![...select.options].some((o) => o.value === p.id)) {
        select.append(h("option", {value: p.id, "data-phone": p.phone}, p.name || p.phone));
      }
    }
    showProfile();
  }

  // ---- the thread ----
  let shown = "";
  async function loadThread() {
    const p = selected();
    if (!p.phone) return;
    const data = await api("GET", at(`/_sandbox/klaviyo/sms?phone=${encodeURIComponent(p.phone)}`));
    const brand = $("brand").value;
    const all = $("all-numbers").checked;
    const msgs = list(data, "sms", "messages", "data")
      .filter((m) => all || m.brand_number === brand)
      .filter((m) => channelOf(m) === (wa() ? "whatsapp" : "sms"));
    const key = JSON.stringify([p.id, brand, all, wa(), msgs]);
    if (key === shown) return;
    shown = key;
    const thread = $("thread");
    const atBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 40;
    thread.replaceChildren(...msgs.map(bubble));
    if (!msgs.length) thread.append(h("li", {class: "empty"},
                                      wa() ? "No WhatsApp messages yet." : "No texts yet."));
    if (atBottom || msgs.length) thread.scrollTop = thread.scrollHeight;
  }

  function bubble(m) {
    const mine = m.direction === "to_brand";
    const label = mine ? `to ${m.brand_number}` : `from ${m.brand_number}`;
    const source = !mine && m.source && m.source !== "conversation" ? ` · ${m.source}` : "";
    const media = (m.media_urls || []).map((u) =>
      h("a", {href: u, target: "_blank", rel: "noopener", class: "media"}, `media: ${u}`));
    return h("li", {class: `sms ${mine ? "out" : "in"} ch-${channelOf(m)}`, testid: "sms",
                    "data-direction": m.direction, "data-brand": m.brand_number,
                    "data-channel": channelOf(m)},
      h("div", {class: "body", testid: "sms-body"}, m.body || ""), ...media,
      h("div", {class: "meta"}, `${label}${source} · ${fmtTime(m.at)}`));
  }

  // ---- actions ----
  const act = (what, fn) => ZK.act(status, what, fn, () => [loadProfiles(), loadThread()]);

  $("compose").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = $("message").value;
    const media = $("media-url").value.trim();
    if (!body.trim() && !media) return;
    act("Sending", async () => {
      const r = wa()
        ? await api("POST", at("/_sandbox/klaviyo/whatsapp/inbound"), {
          from: selected().phone, to: $("brand").value, body})
        : await api("POST", at("/_sandbox/klaviyo/inbound"), {
          from: selected().phone, to: $("brand").value, body, media_urls: media ? [media] : [],
        });
      $("message").value = "";
      $("media-url").value = "";
      return r.delivery_id ? `Sent. Klaviyo webhook delivery #${r.delivery_id} (event ${r.event_id}).`
        : `Sent (event ${r.event_id}), but no Klaviyo webhook URL is set: the bridge hears nothing.`;
    });
  });
  $("message").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("compose").requestSubmit(); }
  });

  function setConsent(value) {
    act(value === "SUBSCRIBED" ? "Opting in" : "Opting out", async () => {
      const p = selected();
      await api("POST", at(`/_sandbox/klaviyo/profiles/${encodeURIComponent(p.id)}/consent`),
                {sms_marketing: value, sms_transactional: value});
      return `${p.name || "Profile"}: SMS consent ${value.toLowerCase()}.`;
    });
  }
  $("opt-out").addEventListener("click", () => setConsent("UNSUBSCRIBED"));
  $("whatsapp-age").addEventListener("click", () => act("Ageing", async () => {
    await api("POST", at("/_sandbox/klaviyo/whatsapp/age"), {phone: selected().phone, hours: 25});
    return "Your last WhatsApp message is now 25 hours old: free-form replies are refused.";
  }));
  $("opt-in").addEventListener("click", () => setConsent("SUBSCRIBED"));

  $("campaign-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act("Sending campaign SMS", async () => {
      const r = await api("POST", at("/_sandbox/klaviyo/campaign"), {
        to: selected().phone, from: $("brand").value, body: $("campaign-body").value,
        [$("campaign-kind").value]: $("campaign-name").value,
      });
      const id = r && r.delivery_id ? ` Klaviyo webhook delivery #${r.delivery_id}.` : "";
      return `Campaign SMS delivered to the phone.${id}`;
    });
  });

  // ---- selection, remembered across reloads ----
  for (const id of ["profile", "brand"]) {
    const saved = localStorage.getItem(`zk-phone-${account}-${id}`);
    if (saved && [...$(id).options].some((o) => o.value === saved)) $(id).value = saved;
  }
  for (const id of ["profile", "brand", "all-numbers", "whatsapp"]) {
    $(id).addEventListener("change", () => {
      if (id !== "all-numbers" && id !== "whatsapp") localStorage.setItem(`zk-phone-${account}-${id}`, $(id).value);
      showProfile();
      loadThread();
    });
  }

  showProfile();
  poll(loadProfiles, 3000, (e) => say(status, `Cannot read profiles: ${e.message}`, "error"));
  poll(loadThread, 1000, (e) => say(status, `Cannot read texts: ${e.message}`, "error"));
})();
