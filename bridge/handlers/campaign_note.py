"""A7: Klaviyo campaign and flow SMS that reach a customer with a not-closed SMS ticket become an
internal note on that ticket, so the agent sees what the customer just received.

Never creates a ticket. Conversation replies (the bridge's own, or typed in Klaviyo's inbox)
come back as `received_sms` too: they carry no campaign or flow name and are skipped, and the
bridge's own texts are also recognised from its ledger of recently sent texts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bridge.domain.model import Conversation, conversation_external_id
from bridge.domain.phones import canonical_brand_number
from bridge.domain.reply_rules import campaign_note
from bridge.handlers.notes import add_note_once
from bridge.handlers.runner import Done, Runner
from bridge.payloads.klaviyo_events import EventShapeError, parse_delivered_sms
from bridge.ports import StorePort, TicketApi

KIND = "received_sms"


@dataclass
class CampaignDeps:
    store: StorePort
    zendesk: TicketApi
    max_attempts: int = 8
    clock: Callable[[], float] = time.time


def runner(deps: CampaignDeps) -> Runner:
    return Runner(store=deps.store, kind=KIND, source="klaviyo", task="bridge.received_sms",
                  process=lambda ref, event: process_delivered(event, deps, ref),
                  max_attempts=deps.max_attempts, clock=deps.clock)


def process_delivered(event: dict[str, Any], deps: CampaignDeps, ref: str = "") -> Done:
    try:
        sms = parse_delivered_sms(event["data"])
    except EventShapeError:
        return Done("dropped", "malformed_event")
    if sms.customer_phone is None:
        return Done("dropped", "no_customer_phone")
    note = campaign_note(sms.campaign, sms.flow, sms.body)
    if note is None:
        # A conversation message reached the phone: A6's evidence that a reply went out.
        deps.store.ledger.remember_echo(sms.customer_phone, sms.body, deps.clock())
        return Done("dropped", "conversation_reply")
    if deps.store.ledger.sent_text_recently(sms.customer_phone, sms.body):
        return Done("dropped", "own_reply")
    brand = canonical_brand_number(sms.brand_number)
    conv = (deps.store.conversations.get_conversation(sms.customer_phone, brand)
            or deps.store.conversations.latest_conversation_of(sms.customer_phone)
            or _from_zendesk(sms.customer_phone, brand, deps))
    if conv is None or conv.ticket_id is None or conv.ticket_status == "closed":
        return Done("dropped", "no_open_ticket")
    key = f"campaign:{ref or sms.event_id}"
    if not add_note_once(key, conv.ticket_id, note, deps.store, deps.zendesk, deps.clock):
        return Done("dropped", "no_open_ticket")
    return Done("applied", fields={"ticket_id": conv.ticket_id})


def _from_zendesk(phone: str, brand: str, deps: CampaignDeps) -> Conversation | None:
    """Cache lost: find the conversation's latest ticket by external_id (one read)."""
    tickets = deps.zendesk.tickets_by_external_id(conversation_external_id(phone, brand))
    if not tickets:
        return None
    latest = max(tickets, key=lambda t: t.id)
    return Conversation(phone, brand, ticket_id=latest.id, ticket_status=latest.status)
