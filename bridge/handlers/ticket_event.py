"""Zendesk event-subscription events: which handler each goes to.

- `ticket.comment_added` → agent replies (agent_reply.py), in comment order per ticket;
- `ticket.created` → `Opened Ticket` on the requester's Klaviyo profile (ticket_metric.py);
- `ticket.tags_changed` → release the ticket's held reply when the change ends its hold
  (`sms_send_now` added, A8; `sms_optout_request` removed, S10: reply_hold.py);
- `ticket.status_changed` → keep the conversation cache's ticket status in step with what
  agents do (so a text to a ticket on hold does not take it off hold), and to CLOSED →
  `Resolved Ticket`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.budgets import background_lane
from bridge.domain.metric_rules import metric_for_change
from bridge.handlers import agent_reply as replies
from bridge.handlers import reply_hold
from bridge.handlers.runner import Done, Runner
from bridge.handlers.ticket_metric import MetricsDeps, record_metric
from bridge.payloads.zendesk_events import (
    COMMENT_ADDED,
    CREATED,
    STATUS_CHANGED,
    TAGS_CHANGED,
    conversation_of,
    event_time,
    event_type,
    new_status,
    ticket_id,
)
from bridge.ports import StorePort

KIND = "zendesk_event"


@dataclass
class TicketEventDeps:
    store: StorePort
    replies: replies.ReplyDeps
    metrics: MetricsDeps
    max_attempts: int = 8


def handle_ticket_event(ref: str, deps: TicketEventDeps) -> str:
    event = deps.store.events.load_event(ref)
    kind = event_type(event["data"]) if event else ""
    if kind == COMMENT_ADDED:
        return replies.runner(deps.replies).run_event(ref)
    if kind == TAGS_CHANGED:     # an agent's "send now" is interactive, and costs no call
        return reply_hold.release_runner(deps.store, deps.replies.clock,
                                         deps.max_attempts).run_event(ref)
    with background_lane():      # metrics and status: never ahead of texts and replies (E6)
        return Runner(store=deps.store, kind=KIND, source="zendesk", task="bridge.zendesk_event",
                      process=lambda _ref, ev: process_ticket_change(ev, deps),
                      max_attempts=deps.max_attempts).run_event(ref)


def process_ticket_change(event: dict[str, Any], deps: TicketEventDeps) -> Done:
    data = event["data"]
    kind = event_type(data)
    tid, status = ticket_id(data), new_status(data)
    if tid is None:
        return Done("dropped", "malformed_event", {"type": kind})
    conv = conversation_of(data)
    if kind == STATUS_CHANGED and conv is not None and status:
        # S11 needs when a ticket was solved: the change's own time, else its receipt
        at = event_time(data) or _float(event.get("received_at"))
        deps.store.conversations.set_ticket_status(tid, *conv, status, at=at)
    metric = metric_for_change(kind, status)
    if metric is None:
        return Done("applied", "recorded", {"type": kind})
    detail = data.get("detail") or {}
    when = (detail.get("created_at") if kind == CREATED else None) or data.get("time") or ""
    return record_metric(tid, metric, str(when), deps.metrics,
                         status=status if kind == STATUS_CHANGED else None,
                         detail=detail if kind == CREATED else None)


def _float(value: Any) -> float | None:
    try:
        return float(value) if value else None
    except (TypeError, ValueError):
        return None
