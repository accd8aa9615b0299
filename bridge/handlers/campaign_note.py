"""A7: Klaviyo campaign and flow SMS that reach a customer with a not-closed SMS ticket become an
internal note on that ticket, so the agent sees what the customer just received.

Never creates a ticket. Conversation replies (the bridge's own, or typed in Klaviyo's inbox)
come back as `received_sms` too: they carry no campaign or flow name and are skipped, and the
bridge's own texts are also recognised from its ledger of recently sent texts.

Which ticket: the open-SMS index (adapters/open_sms.py, E6), never the conversation cache's
keys (a scan) nor Zendesk: a campaign to thousands costs Redis reads only. The receiver already
dropped receipts for phones the index does not know, so this sees the few that matter; with
bulk writes on, their notes go out a hundred to an update_many job (handlers/bulk_notes.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bridge.domain.model import WHATSAPP_BRAND_PREFIX
from bridge.domain.phones import canonical_brand_number
from bridge.domain.reply_rules import campaign_note
from bridge.handlers.bulk_notes import leave_note
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
    owns: Callable[[str], bool] = lambda number: True   # E7: the brand's own numbers
    bulk_writes: bool = False     # E6: notes go out in update_many jobs (handlers/bulk_notes.py)


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
    tickets = deps.store.open_sms.open_tickets(sms.customer_phone)
    found = open_ticket_for({n: t for n, t in tickets.items()     # SMS tickets only (A7):
                             if deps.owns(n) and not n.startswith(WHATSAPP_BRAND_PREFIX)},
                            canonical_brand_number(sms.brand_number))
    if found is None:
        return Done("dropped", "no_open_ticket")
    brand, ticket_id = found
    key = f"campaign:{ref or sms.event_id}"
    if not leave_note(ref or sms.event_id, key, ticket_id, note, deps.store, deps.zendesk,
                      deps.clock, deps.bulk_writes):
        # Closed since the index saw it (a webhook still in flight, or missed): forget it.
        deps.store.open_sms.mark(sms.customer_phone, brand, ticket_id, "closed")
        return Done("dropped", "no_open_ticket")
    return Done("applied", fields={"ticket_id": ticket_id})


def open_ticket_for(tickets: dict[str, tuple[int, str]], brand: str) -> tuple[str, int] | None:
    """(brand number, ticket id) to note: the ticket of the number the SMS came from, else the
    customer's newest open SMS ticket on any brand number (campaigns often come from another
    number than the one the customer texted)."""
    if brand in tickets:
        return brand, tickets[brand][0]
    if not tickets:
        return None
    best = max(tickets, key=lambda b: tickets[b][0])
    return best, tickets[best][0]
