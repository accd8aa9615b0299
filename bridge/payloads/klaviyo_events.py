"""Reading Klaviyo system-webhook events into domain values.

The `event_properties` key names are ASSUMED (API-NOTES): `Message Body`, `To Number`,
`From Number`, `Media URLs`, `Campaign Name`, `Flow Name`. They are read here and nowhere else,
so checking them against a live account is a one-line change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.domain.coerce import as_moment, as_obj
from bridge.domain.model import InboundSms
from bridge.domain.phones import canonical_brand_number, normalize

BODY, TO, FROM, MEDIA = "Message Body", "To Number", "From Number", "Media URLs"
CAMPAIGN, FLOW = "Campaign Name", "Flow Name"
SENT_SMS = "event:klaviyo.sent_sms"
RECEIVED_SMS = "event:klaviyo.received_sms"


class EventShapeError(ValueError):
    """The event is missing something the rules need; it is dropped with a counted reason."""


def _sent_at(attributes: dict[str, Any]) -> datetime:
    moment = as_moment(attributes)
    if moment is None:
        raise EventShapeError("event has neither a valid 'datetime' nor 'timestamp'")
    return moment


def parse_inbound_sms(item: dict[str, Any]) -> InboundSms:
    """A `sent_sms` item of a delivery -> InboundSms (customer phone may still be None)."""
    payload = as_obj(item.get("payload"))
    attributes = payload.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise EventShapeError("payload.attributes must be an object")
    props = attributes.get("event_properties") or {}
    if not isinstance(props, dict):
        raise EventShapeError("event_properties must be an object")
    body = props.get(BODY) or ""
    if not isinstance(body, str):
        raise EventShapeError(f"'{BODY}' must be text")
    to_number = props.get(TO)
    if not isinstance(to_number, str | int) or not str(to_number).strip():
        raise EventShapeError(f"'{TO}' (the brand number texted) is missing")
    media = props.get(MEDIA) or []
    if not isinstance(media, list):
        media = [media]
    profile = as_obj(as_obj(payload.get("relationships")).get("profile"))
    profile_id = as_obj(profile.get("data")).get("id")
    return InboundSms(
        event_id=str(payload.get("id")),
        profile_id=profile_id if isinstance(profile_id, str) and profile_id else None,
        customer_phone=normalize(str(props.get(FROM) or "")),
        brand_number=str(to_number).strip(),
        body=body,
        media_count=len(media),
        sent_at=_sent_at(attributes),
    )


def order_score(item: dict[str, Any]) -> float:
    """Sort key for a customer's texts (S7): the send time Klaviyo recorded, to the microsecond."""
    attributes = (item.get("payload") or {}).get("attributes") or {}
    if not isinstance(attributes, dict):
        return 0.0
    try:
        return _sent_at(attributes).timestamp()
    except EventShapeError:
        return 0.0


def conversation_route(item: dict[str, Any]) -> tuple[str, float] | None:
    """Where a text waits for its turn (S7): ("<customer>|<brand number>", send time).

    The receiver calls this when it stores the event, so a text's place in its conversation is
    fixed the moment we acknowledge it, whatever happens to the task that carries it. The
    customer is the From Number, else the profile id. None for events too broken to route (they
    are dropped as malformed by the worker).
    """
    try:
        sms = parse_inbound_sms(item)
    except (EventShapeError, AttributeError, TypeError):
        return None
    who = sms.customer_phone or (f"profile-{sms.profile_id}" if sms.profile_id else None)
    if who is None:
        return None
    return f"{who}|{canonical_brand_number(sms.brand_number)}", sms.sent_at.timestamp()


@dataclass(frozen=True)
class DeliveredSms:
    """Klaviyo's `received_sms`: an SMS from a brand number reached a customer (A7)."""

    event_id: str
    customer_phone: str | None
    brand_number: str
    body: str
    campaign: str | None
    flow: str | None


def parse_delivered_sms(item: dict[str, Any]) -> DeliveredSms:
    payload = item.get("payload") or {}
    attributes = payload.get("attributes") or {}
    props = attributes.get("event_properties") if isinstance(attributes, dict) else None
    if not isinstance(props, dict):
        raise EventShapeError("event_properties must be an object")
    body = props.get(BODY)
    if not isinstance(body, str):
        raise EventShapeError(f"'{BODY}' must be text")
    return DeliveredSms(event_id=str(payload.get("id")),
                        customer_phone=normalize(str(props.get(TO) or "")),
                        brand_number=str(props.get(FROM) or "").strip(), body=body,
                        campaign=props.get(CAMPAIGN) or None, flow=props.get(FLOW) or None)


def receipt_phone(item: dict[str, Any]) -> str | None:
    """The recipient's phone of a `received_sms` item, or None when it has none the bridge can
    read (the worker then drops it with its reason)."""
    try:
        return parse_delivered_sms(item).customer_phone
    except EventShapeError:
        return None
