"""Admin routes for WhatsApp (rule S9), under `/_sandbox/klaviyo/whatsapp` (docs/sandbox-admin.md).

- `POST .../whatsapp/inbound` `{"from", "to", "body"}`: the customer sends a WhatsApp message to
  the brand's number; Klaviyo records `Sent WhatsApp Message` and fires the system webhook with
  the topic `event:klaviyo.sent_whatsapp_message` [assumed, as the bridge's
  payloads/whatsapp.py pins it].
- `POST .../whatsapp/age` `{"phone", "hours": 25}`: move the customer's last WhatsApp message
  that far back, so the 24-hour window can be tried without waiting a day (the API then refuses
  a free-form reply as Klaviyo/Meta would).
- `POST .../whatsapp/consent` `{"phone", "marketing"?, "transactional"?, "conversational"?}`.

Each acts on the Klaviyo account (rule E7) `?account=<name>` names, else the one owning the
brand number written to, else the first, as the SMS admin routes do (admin.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox.klaviyo import accounts
from sandbox.klaviyo import webhooks as hooks
from sandbox.klaviyo.state import CONSENTS, E164, WHATSAPP, KlaviyoState

PREFIX = "/_sandbox/klaviyo/whatsapp"
SENT_WHATSAPP_TOPIC = "event:klaviyo.sent_whatsapp_message"   # [assumed]


def add_routes(bp: Blueprint, sb: Any) -> None:
    def state(number: str | None = None) -> KlaviyoState:
        return accounts.for_request(sb, number or None)

    @bp.post(f"{PREFIX}/inbound")
    def whatsapp_inbound() -> tuple[Response, int] | Response:
        body = request.get_json(silent=True) or {}
        phone, to = str(body.get("from") or ""), str(body.get("to") or "")
        if not E164.match(phone) or not E164.match(to):
            return _error(400, "'from' and 'to' must be E.164 numbers")
        with sb.lock:
            account = state(to)
            ev = account.customer_whatsapps(phone, to, str(body.get("body") or ""))
            delivery = hooks.deliver(sb, [(SENT_WHATSAPP_TOPIC, ev)], account)
        return jsonify({"event_id": ev.id, "delivery_id": delivery})

    @bp.post(f"{PREFIX}/age")
    def whatsapp_age() -> tuple[Response, int] | Response:
        body = request.get_json(silent=True) or {}
        try:
            hours = float(body.get("hours", 25))
        except (TypeError, ValueError):
            return _error(400, "'hours' must be a number")
        conv = state().age_whatsapp(str(body.get("phone") or ""), hours)
        if conv is None:
            return _error(404, "no WhatsApp conversation for that phone")
        return jsonify({"conversation_id": conv.id, "last_customer_at": conv.last_customer_at})

    @bp.post(f"{PREFIX}/consent")
    def whatsapp_consent() -> tuple[Response, int] | Response:
        body = request.get_json(silent=True) or {}
        with sb.lock:
            p = state().by_phone(str(body.get("phone") or ""))
            if p is None:
                return _error(404, "no profile with that phone")
            for kind in p.whatsapp:
                if kind in body and body[kind] not in CONSENTS:
                    return _error(400, f"{kind} must be one of {', '.join(CONSENTS)}")
            p.whatsapp.update({k: body[k] for k in p.whatsapp if k in body})
            return jsonify(p.as_admin_json())

    @bp.get(f"{PREFIX}/conversations")
    def whatsapp_conversations() -> Response:
        with sb.lock:
            return jsonify([{"id": c.id, "profile_id": c.profile_id,
                             "brand_number": c.brand_number,
                             "last_customer_at": c.last_customer_at}
                            for c in state().conversations.values() if c.channel == WHATSAPP])


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status
