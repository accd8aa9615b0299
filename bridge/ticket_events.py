"""Zendesk event-subscription events: which handler each goes to.

- `ticket.comment_added` → agent replies (replies.py), in comment order per ticket;
- `ticket.status_changed` → keep the conversation cache's ticket status in step with what
  agents do (so a text to a ticket on hold does not take it off hold);
- `ticket.created` → recorded (ticket metrics build on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge import replies
from bridge.ordered import Done, Runner
from bridge.store import Store
from bridge.zendesk_events import (
    COMMENT_ADDED,
    STATUS_CHANGED,
    conversation_of,
    event_type,
    new_status,
    ticket_id,
)

KIND = "zendesk_event"


@dataclass
class TicketEventDeps:
    store: Store
    replies: replies.ReplyDeps
    max_attempts: int = 8


def handle_ticket_event(ref: str, deps: TicketEventDeps) -> str:
    event = deps.store.load_event(ref)
    kind = event_type(event["data"]) if event else ""
    if kind == COMMENT_ADDED:
        return replies.runner(deps.replies).run_event(ref)
    return Runner(store=deps.store, kind=KIND, source="zendesk", task="bridge.zendesk_event",
                  process=lambda _ref, ev: process_ticket_change(ev, deps.store),
                  max_attempts=deps.max_attempts).run_event(ref)


def process_ticket_change(event: dict[str, Any], store: Store) -> Done:
    data = event["data"]
    kind = event_type(data)
    conv = conversation_of(data)
    tid, status = ticket_id(data), new_status(data)
    if kind == STATUS_CHANGED and conv is not None and tid is not None and status:
        if store.set_ticket_status(tid, *conv, status):
            return Done("applied", "status_cached", {"type": kind})
    return Done("applied", "recorded", {"type": kind})
