// The agent desk's flags for held replies and opt-out requests (rules A8, S10), and its tag
// editor. What is flagged comes from the sandbox (`desk_flags` on each ticket, worked out from
// the ticket's tags and the bridge's notes, as an agent in Zendesk would read them:
// sandbox/zendesk/desk_flags.py). Changing a tag fires ticket.tags_changed, which is how the
// bridge learns that an agent released a held reply.
"use strict";

const DeskHolds = (() => {
  const SEND_NOW_TAG = "sms_send_now";
  const OPT_OUT_REQUEST_TAG = "sms_optout_request";
  const flagsOf = (t) => t.desk_flags || {};
  const rule = (id) => ZK.h("a", {href: `/rules#${id}`}, `rule ${id}`);

  // Badges for the ticket list's row.
  function badges(t) {
    const f = flagsOf(t);
    const found = [
      f.opt_out_request ? ZK.h("span", {class: "flag f-optout", testid: "flag-optout",
                                        title: "the customer asked in words to stop (S10)"},
                               "Opt-out request") : null,
      f.reply_held ? ZK.h("span", {class: "flag f-held", testid: "flag-held",
                                   title: holdTitle(f.reply_held)}, "Reply held") : null,
    ].filter(Boolean);
    return found.length ? [ZK.h("div", {class: "flags-row"}, ...found)] : [];
  }

  function holdTitle(held) {
    return held.reason === "quiet_hours"
      ? `quiet hours: goes out at ${held.until || "the window's end"} (A8)`
      : "until the opt-out request is cleared (S10)";
  }

  // The ticket view's banners and tag editor; `changeTags({add, remove})` does the change.
  function panel(t, changeTags, closed) {
    const f = flagsOf(t);
    const out = [];
    if (f.opt_out_request) out.push(optOutBanner(changeTags, closed));
    if (f.reply_held) out.push(heldBanner(f.reply_held, changeTags, closed));
    out.push(tagEditor(t, changeTags, closed));
    return out;
  }

  function button(testid, label, onClick, closed) {
    const b = ZK.h("button", {type: "button", testid, disabled: closed ? "disabled" : null}, label);
    b.addEventListener("click", onClick);
    return b;
  }

  function heldBanner(held, changeTags, closed) {
    const quiet = held.reason === "quiet_hours";
    const text = quiet
      ? [`It was written during quiet hours and goes out as an SMS at ${held.until || "the window's end"}, `
         + "the customer's local time (", rule("A8"), ")."]
      : ["The customer asked us to stop texting them: it goes out only once the opt-out request is "
         + "cleared (", rule("S10"), ")."];
    return ZK.h("div", {class: "flag-banner f-held", testid: "hold-banner", "data-reason": held.reason},
      ZK.h("p", {}, ZK.h("strong", {}, "Reply held."), " ", ...text),
      quiet ? button("send-now", "Send held replies now",
                     () => changeTags({add: [SEND_NOW_TAG]}), closed) : null);
  }

  function optOutBanner(changeTags, closed) {
    return ZK.h("div", {class: "flag-banner f-optout", testid: "optout-banner"},
      ZK.h("p", {}, ZK.h("strong", {}, "Opt-out request."),
        " The customer asked in words to stop texting them. Replies are held until you "
        + "unsubscribe them in Klaviyo or, if they did not mean it, clear the request (",
        rule("S10"), ")."),
      button("clear-optout", "Clear opt-out request",
             () => changeTags({remove: [OPT_OUT_REQUEST_TAG]}), closed));
  }

  function tagEditor(t, changeTags, closed) {
    const chips = (Array.isArray(t.tags) ? t.tags : []).map((tag) =>
      ZK.h("span", {class: "chip tag", testid: "tag-chip", "data-tag": tag}, tag,
        button("tag-remove", "×", () => changeTags({remove: [tag]}), closed)));
    const input = ZK.h("input", {testid: "tag-input", placeholder: "add a tag",
                                 "aria-label": "tag to add", disabled: closed ? "disabled" : null});
    const add = () => {
      const tags = input.value.split(/[,\s]+/).filter(Boolean).map((s) => s.toLowerCase());
      if (tags.length) changeTags({add: tags});
    };
    input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); add(); } });
    return ZK.h("div", {class: "tag-editor row", testid: "tag-editor"},
      ZK.h("span", {class: "hint"}, "Tags"), ...chips, input,
      button("tag-add", "Add tag", add, closed));
  }

  // A chip on the bridge's note that says it held a reply.
  function noteChip(t, c) {
    const ids = flagsOf(t).hold_note_ids || [];
    return ids.includes(c.id) ? ZK.h("span", {class: "flag f-held", testid: "comment-held"},
                                     "reply held") : null;
  }

  return {badges, panel, noteChip};
})();
