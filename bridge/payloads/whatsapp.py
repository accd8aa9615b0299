"""S9: how a customer's WhatsApp message reaches the bridge, and how Klaviyo refuses a reply
outside WhatsApp's 24-hour window. Both are undocumented: this module is the ONE place that
pins them, so checking them against a live account is a change here.

[assumed] Klaviyo names system-webhook topics after the metric behind them
(`Sent SMS` -> `event:klaviyo.sent_sms`, the customer's inbound text). Its WhatsApp metrics
follow the same pattern from the profile's side: `Sent WhatsApp Message` is the customer's
message to the brand, `Received WhatsApp Message` one from the brand that reached the customer.
So an inbound WhatsApp message is a delivery item with the topic
`event:klaviyo.sent_whatsapp_message` whose payload is an event like `sent_sms`'s, with the
same `event_properties` (`Message Body`, `To Number` = the brand's WhatsApp number,
`From Number` = the customer, `Media URLs`) plus `Channel: "whatsapp"`.

[assumed] A free-form conversation message outside the window is refused with a 4xx whose
JSON:API error has the code `whatsapp_outside_window` (or Meta's error 131047 quoted in the
detail, "Re-engagement message").
"""

from __future__ import annotations

from typing import Any

from bridge.domain.model import WHATSAPP, InboundSms, conversation_brand
from bridge.domain.phones import canonical_brand_number
from bridge.payloads.klaviyo_events import EventShapeError, parse_inbound_sms

SENT_WHATSAPP = "event:klaviyo.sent_whatsapp_message"         # [assumed] customer -> brand
RECEIVED_WHATSAPP_METRIC = "Received WhatsApp Message"       # [assumed] brand -> customer
WINDOW_ERROR_CODE = "whatsapp_outside_window"                # [assumed]
META_REENGAGEMENT_ERROR = "131047"                            # [doc, Meta]


def parse_inbound_whatsapp(item: dict[str, Any]) -> InboundSms:
    """A `sent_whatsapp_message` item -> the same value as a text, on the WhatsApp channel."""
    message = parse_inbound_sms(item)
    return InboundSms(event_id=message.event_id, profile_id=message.profile_id,
                      customer_phone=message.customer_phone, brand_number=message.brand_number,
                      body=message.body, media_count=message.media_count,
                      sent_at=message.sent_at, channel=WHATSAPP)


def parse_inbound(item: dict[str, Any]) -> InboundSms:
    """A customer's message of either channel, by the delivery item's topic."""
    if item.get("topic") == SENT_WHATSAPP:
        return parse_inbound_whatsapp(item)
    return parse_inbound_sms(item)


def whatsapp_route(item: dict[str, Any]) -> tuple[str, float] | None:
    """S7's queue for a WhatsApp message: "<customer>|wa:<brand number>", apart from the
    customer's texts to the same number."""
    try:
        message = parse_inbound_whatsapp(item)
    except (EventShapeError, AttributeError, TypeError):
        return None
    who = message.customer_phone or (f"profile-{message.profile_id}"
                                     if message.profile_id else None)
    if who is None:
        return None
    brand = conversation_brand(WHATSAPP, canonical_brand_number(message.brand_number))
    return f"{who}|{brand}", message.sent_at.timestamp()


def is_window_refusal(status: int | None, body: Any) -> bool:
    """Did Klaviyo refuse a WhatsApp send because the 24-hour window is closed?"""
    if status is None or not 400 <= status < 500 or status == 429 or not isinstance(body, dict):
        return False
    for error in body.get("errors") or []:
        if not isinstance(error, dict):
            continue
        if error.get("code") == WINDOW_ERROR_CODE \
                or META_REENGAGEMENT_ERROR in str(error.get("detail") or ""):
            return True
    return False
