"""Admin routes for the Klaviyo side, under `/_sandbox/klaviyo` (contract: docs/sandbox-admin.md).

This is how a test, a benchmark or the phone UI plays the customer (texting a brand number,
receiving a campaign) and looks inside Klaviyo (profiles, consent, SMS log, events). Each
customer-side action changes `KlaviyoState` and fires the system webhook Klaviyo would send.

Two accounts (rule E7): a route acts on `?account=<name>` (seed.ACCOUNTS: acme, bolt), else
on the account owning the brand number texted or sent from (or the profile named), else on
the first account, so every call written before the second account existed means the same.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox.klaviyo import accounts, whatsapp_admin
from sandbox.klaviyo import webhooks as hooks
from sandbox.klaviyo.accounts import UnknownAccount
from sandbox.klaviyo.state import E164, KlaviyoState

PREFIX = "/_sandbox/klaviyo"


def add_routes(bp: Blueprint, sb: Any) -> None:
    whatsapp_admin.add_routes(bp, sb)        # S9: a customer's WhatsApp, the 24-hour window

    @bp.errorhandler(UnknownAccount)
    def unknown_account(e: UnknownAccount) -> tuple[Response, int]:
        return _error(404, str(e))

    def state(number: object = None, profile_id: str | None = None) -> KlaviyoState:
        """The account a call is for (see the module docstring)."""
        return accounts.for_request(sb, number, profile_id)

    @bp.get(f"{PREFIX}/profiles")
    def profiles() -> Response:
        with sb.lock:
            return jsonify([dict(p.as_admin_json(), conversation=_conv(state(), p.id))
                            for p in state().profiles.values()])

    @bp.post(f"{PREFIX}/profiles/batch")
    def profiles_batch() -> tuple[Response, int] | Response:
        """Many customers subscribed to SMS at once (benchmarks): {"phones": [...]}."""
        phones = (request.get_json(silent=True) or {}).get("phones")
        if not isinstance(phones, list) or not all(isinstance(p, str) and E164.match(p)
                                                   for p in phones):
            return _error(400, "phones: a list of E.164 numbers")
        with sb.lock:
            ids = [state().consenting_profile(p).id for p in phones]
        return jsonify({"ids": ids})

    @bp.post(f"{PREFIX}/profiles/<pid>/consent")
    def consent(pid: str) -> tuple[Response, int] | Response:
        body = request.get_json(silent=True) or {}
        with sb.lock:
            account = state(profile_id=pid)
            p = account.profiles.get(pid)
            if p is None:
                return _error(404, f"no profile {pid}")
            try:
                account.set_consent(p, body.get("sms_marketing"), body.get("sms_transactional"))
            except ValueError as e:
                return _error(400, str(e))
            return jsonify(p.as_admin_json())

    @bp.post(f"{PREFIX}/inbound")
    def inbound() -> tuple[Response, int] | Response:
        body = request.get_json(silent=True) or {}
        with sb.lock:
            account = state(body.get("to"))
            problem = _check_text(account, body)
            if problem:
                return _error(400, problem)
            ev = _text(account, body)
            delivery = hooks.deliver(sb, [(hooks.SENT_SMS_TOPIC, ev)], account)
        return jsonify({"event_id": ev.id, "delivery_id": delivery})

    @bp.post(f"{PREFIX}/inbound/batch")
    def inbound_batch() -> tuple[Response, int] | Response:
        messages = (request.get_json(silent=True) or {}).get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(400, "'messages' must be a non-empty list")
        with sb.lock:
            first = messages[0] if isinstance(messages[0], dict) else {}
            account = state(first.get("to"))        # one account's numbers per batch
            problem = _check_batch(account, messages)
            if problem:
                return _error(400, problem)
            events = [_text(account, m) for m in messages]
            delivery = hooks.deliver(sb, [(hooks.SENT_SMS_TOPIC, ev) for ev in events], account)
        return jsonify({"event_ids": [ev.id for ev in events], "delivery_id": delivery})

    @bp.post(f"{PREFIX}/campaign")
    def campaign() -> tuple[Response, int] | Response:
        body = request.get_json(silent=True) or {}
        with sb.lock:
            account = state(body.get("from"))
            sent = _send_campaign(account, body)
            if isinstance(sent, tuple):   # refused: the error answer
                return sent
            ev = sent
            delivery = hooks.deliver(sb, [(hooks.RECEIVED_SMS_TOPIC, ev)], account)
        return jsonify({"event_id": ev.id, "delivery_id": delivery})

    @bp.post(f"{PREFIX}/campaign/batch")
    def campaign_batch() -> tuple[Response, int] | Response:
        """One campaign to many phones (`to`: a list): Klaviyo reports each receipt, in
        deliveries of up to `per_delivery` events (default 500). Phones that cannot receive it
        (no profile, no consent) are listed, not sent."""
        body = request.get_json(silent=True) or {}
        phones, size = body.get("to"), int(body.get("per_delivery") or 500)
        if not isinstance(phones, list) or not phones or not 1 <= size <= 1000:
            return _error(400, "'to' must be a non-empty list; per_delivery 1-1000")
        with sb.lock:
            account = state(body.get("from"))
            sent, refused = [], []
            for phone in phones:
                ev = _send_campaign(account, {**body, "to": phone})
                (refused if isinstance(ev, tuple) else sent).append(phone if isinstance(
                    ev, tuple) else ev)
            deliveries = [hooks.deliver(sb, [(hooks.RECEIVED_SMS_TOPIC, ev)
                                             for ev in sent[i:i + size]], account)
                          for i in range(0, len(sent), size)]
        return jsonify({"sent": len(sent), "refused": refused, "delivery_ids": deliveries})

    @bp.get(f"{PREFIX}/sms")
    def sms() -> Response:
        phone = request.args.get("phone")
        with sb.lock:
            return jsonify([s for s in state().sms if phone is None or s["phone"] == phone])

    @bp.get(f"{PREFIX}/events")
    def events() -> Response:
        metric = request.args.get("metric")
        return jsonify([e.as_admin_json() for e in state().events_sorted()
                        if metric is None or e.metric_name == metric])

    @bp.get(f"{PREFIX}/conversations")
    def conversations() -> Response:
        with sb.lock:
            return jsonify([{"id": c.id, "profile_id": c.profile_id,
                             "brand_number": c.brand_number}
                            for c in state().conversations.values()])

    @bp.get(f"{PREFIX}/webhooks")
    def system_webhooks() -> Response:
        """The webhooks made through the Webhooks API (webhook_api.py), secret and whole URL."""
        with sb.lock:
            return jsonify([h.as_admin_json() for h in state().system_webhooks.values()])

    @bp.get(f"{PREFIX}/settings")
    @bp.post(f"{PREFIX}/settings")
    def settings() -> tuple[Response, int] | Response:
        body = (request.get_json(silent=True) or {}) if request.method == "POST" else {}
        with sb.lock:
            if "opt_out_match" in body and body["opt_out_match"] not in ("contains", "exact"):
                return _error(400, "opt_out_match must be 'contains' or 'exact'")
            account = state()
            _apply_settings(account, body)
            return jsonify({"opt_out_match": account.opt_out_match,
                            "conversations_enabled": account.conversations_enabled,
                            "record_delay_seconds": account.record_delay_seconds,
                            "retry_after_on_503": account.retry_after_on_503,
                            "webhooks_api_enabled": account.webhooks_api_enabled,
                            "brand_numbers": account.brand_numbers,
                            "account": account.account.name})


def _check_text(state: KlaviyoState, m: dict[str, Any]) -> str | None:
    if not E164.match(str(m.get("from", ""))):
        return "'from' must be the customer's phone in E.164, e.g. +15005550101"
    if m.get("to") not in state.brand_numbers:
        return f"'to' must be a brand number: {', '.join(state.brand_numbers)}"
    media = m.get("media_urls")
    if media is not None and not (isinstance(media, list)
                                  and all(isinstance(u, str) for u in media)):
        return "'media_urls' must be a list of URLs"
    if not isinstance(m.get("body", ""), str) or not (m.get("body") or media):
        return "a text needs a 'body' (or 'media_urls')"
    return None


def _check_batch(state: KlaviyoState, messages: list[Any]) -> str | None:
    """The first message's problem, named by its index: a batch is taken or refused whole."""
    for i, m in enumerate(messages):
        problem = _check_text(state, m if isinstance(m, dict) else {})
        if problem:
            return f"messages[{i}]: {problem}"
    return None


def _send_campaign(state: KlaviyoState, body: dict[str, Any]) -> Any | tuple[Response, int]:
    """A campaign (or, with `flow_name`, a flow) SMS from a brand number to the profile with the
    `to` phone: the event, or the error answer when the profile, the sender or the consent is
    wrong. The sender defaults to the profile's conversation number, else the first one."""
    source = "flow" if body.get("flow_name") else "campaign"
    name = body.get("flow_name") or body.get("campaign_name") or "Sandbox campaign"
    p = state.by_phone(str(body.get("to", "")))
    if p is None:
        return _error(404, f"no profile with phone {body.get('to')!r}")
    conv = state.conversation_of(p.id)
    sender = body.get("from") or (conv.brand_number if conv else next(iter(state.brand_numbers)))
    if sender not in state.brand_numbers:
        return _error(400, f"unknown brand number {sender!r}")
    # [assumed] a campaign needs marketing consent; a flow either kind
    allowed = p.sms_marketing == "SUBSCRIBED" if source == "campaign" else p.can_receive_sms
    if not allowed:
        return _error(409, f"profile {p.id} cannot receive this {source} SMS (consent)")
    return state.brand_sends(p, sender, str(body.get("body", "")), source, name)


def _apply_settings(state: KlaviyoState, body: dict[str, Any]) -> None:
    """The account settings a test may switch (checked by the caller): how STOP words match,
    and whether the Conversations API and the Webhooks API (Advanced KDP) are enabled."""
    if "opt_out_match" in body:
        state.opt_out_match = body["opt_out_match"]
    if "conversations_enabled" in body:
        state.conversations_enabled = bool(body["conversations_enabled"])
    if "record_delay_seconds" in body:
        state.record_delay_seconds = max(0.0, float(body["record_delay_seconds"]))
    if "retry_after_on_503" in body:
        state.retry_after_on_503 = bool(body["retry_after_on_503"])
    if "webhooks_api_enabled" in body:
        state.webhooks_api_enabled = bool(body["webhooks_api_enabled"])


def _text(state: KlaviyoState, m: dict[str, Any]) -> Any:
    return state.customer_texts(m["from"], m["to"], m.get("body") or "", m.get("media_urls"))


def _conv(state: KlaviyoState, profile_id: str) -> dict[str, str] | None:
    c = state.conversation_of(profile_id)
    return {"id": c.id, "brand_number": c.brand_number} if c else None


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status
