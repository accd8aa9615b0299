"""Zendesk event-subscription events (ticket.created / comment_added / status_changed).

For now the bridge uses them to keep its conversation cache's ticket status in step with what
agents do in Zendesk (so a text to a ticket on hold does not take it off hold). Replies (A1-A7)
and ticket metrics (M1-M4) build on this handler.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.model import parse_external_id
from bridge.observe import log_outcome
from bridge.store import Store

KIND = "zendesk_event"


@dataclass
class TicketEventDeps:
    store: Store


def handle_ticket_event(ref: str, deps: TicketEventDeps) -> str:
    event = deps.store.load_event(ref)
    if event is None:
        deps.store.count(KIND, "dropped", "event_missing")
        return "dropped:event_missing"
    if event.get("state") in ("done", "dropped", "failed"):
        return "already_done"
    data = event["data"]
    kind = str(data.get("type") or "").rsplit(":", 1)[-1]
    detail = data.get("detail") or {}
    outcome = "recorded"
    conv = parse_external_id(detail.get("external_id"))
    if kind == "ticket.status_changed" and conv is not None:
        current = str(((data.get("event") or {}).get("current")) or detail.get("status") or "")
        try:
            ticket_id = int(detail.get("id"))
        except (TypeError, ValueError):
            ticket_id = -1
        if current and deps.store.set_ticket_status(ticket_id, *conv, current.lower()):
            outcome = "status_cached"
    deps.store.update_event(ref, state="done", outcome=outcome)
    deps.store.count(KIND, outcome, kind)
    log_outcome(ref, "zendesk", outcome, type=kind)
    return outcome
