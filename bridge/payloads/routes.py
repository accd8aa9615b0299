"""Which ordered queue an event waits in, decided at receipt (S7, A6): a customer's texts wait
per conversation, an agent's comments on an SMS ticket per ticket; every other event runs
without a queue. The receiver and anything that stores events the same way call this."""

from __future__ import annotations

from bridge.domain.model import RawEvent
from bridge.payloads.klaviyo_events import SENT_SMS, conversation_route
from bridge.payloads.whatsapp import SENT_WHATSAPP, whatsapp_route
from bridge.payloads.zendesk_events import reply_route


def queue_of(event: RawEvent) -> tuple[str, float] | None:
    """(queue name, score) for an event that must keep its order, else None."""
    if event.source == "klaviyo" and event.kind == SENT_SMS:
        return conversation_route(event.data)
    if event.source == "klaviyo" and event.kind == SENT_WHATSAPP:
        return whatsapp_route(event.data)          # S9: its own conversation queue
    if event.source == "zendesk":
        return reply_route(event.data)
    return None
