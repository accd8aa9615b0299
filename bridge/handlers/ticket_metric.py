"""Ticket metrics handler (M1-M3): record `Opened Ticket` / `Resolved Ticket` on the requester's
Klaviyo profile, once per ticket and metric.

Called for live webhooks (ticket_event.py) and for what the catch-up sweep finds missing
(reconcile.py). Once: the bridge's done-marker is checked first (a duplicate costs no API
call); concurrent duplicates (the same webhook delivered several times at once) both pass that
check, so the work is then claimed atomically (a SET NX claim with a short TTL, released if the
attempt fails): the others wait a moment and find the done-marker. The event's `unique_id` is
derived from ticket id + metric, so even a claim that expired mid-call makes Klaviyo store one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bridge.domain.metric_rules import build_event
from bridge.domain.model import Budget
from bridge.errors import Deferred, TicketGone
from bridge.handlers import metric_burst
from bridge.handlers.runner import Done
from bridge.ports import QuotaPort, SmsApi, StorePort, TicketApi

CLAIM_WAIT = 3.0    # a duplicate checks back this much later (the holder is one call away)


@dataclass
class MetricsDeps:
    store: StorePort
    zendesk: TicketApi
    klaviyo: SmsApi
    quota: QuotaPort
    events_budget: Budget
    zendesk_url: str
    clock: Callable[[], float] = time.time


def record_metric(ticket_id: int, metric: str, when: str, deps: MetricsDeps,
                  status: str | None = None) -> Done:
    """Send one metric event unless already recorded. `when` is the Zendesk time (ISO)."""
    if deps.store.ledger.metric_done(ticket_id, metric):
        return Done("dropped", "already_recorded", {"ticket_id": ticket_id})
    claim = f"metric:{ticket_id}:{metric}"
    if not deps.store.ledger.claim(claim):
        raise Deferred(CLAIM_WAIT, "a concurrent duplicate is recording this metric")
    try:
        return _record(ticket_id, metric, when, deps, status)
    except BaseException:
        deps.store.ledger.release_claim(claim)     # nothing recorded: let a retry claim it
        raise


def _record(ticket_id: int, metric: str, when: str, deps: MetricsDeps,
            status: str | None) -> Done:
    try:
        ticket, users, groups = deps.zendesk.ticket_with_people(ticket_id)
    except TicketGone:
        return Done("dropped", "ticket_gone", {"ticket_id": ticket_id})
    deps.store.conversations.cache_users(users)
    event = build_event(metric, ticket, users, groups, deps.zendesk_url, when,
                        status=(status or ticket.get("status") or "").lower() or None)
    if event is None:
        deps.store.ledger.mark_metric_done(ticket_id, metric, "no_profile_identity")
        return Done("dropped", "no_profile_identity", {"ticket_id": ticket_id})
    if deps.quota.take(deps.events_budget) > 0:
        # A burst: rather than wait or exceed the limit, the event joins the next bulk call.
        metric_burst.buffer(deps.store, event)
        deps.store.outcomes.count("ticket_metric", "recorded", metric)
        return Done("applied", "bulk", {"ticket_id": ticket_id, "metric": metric})
    deps.klaviyo.create_event(metric=event.metric, profile=event.profile,
                              properties=event.properties, unique_id=event.unique_id,
                              time=event.time)
    deps.store.ledger.mark_metric_done(ticket_id, metric)
    # By name, for /ops and /metrics (the job counters count events, not which metric).
    deps.store.outcomes.count("ticket_metric", "recorded", metric)
    return Done("applied", fields={"ticket_id": ticket_id, "metric": metric})
