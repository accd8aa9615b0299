"""Ticket metrics handler (M1-M3): record `Opened Ticket` / `Resolved Ticket` on the requester's
Klaviyo profile, once per ticket and metric.

Called for live webhooks (ticket_event.py) and for what the catch-up sweep finds missing
(reconcile.py). Once: the bridge's done-marker is checked first (a duplicate costs no API
call); concurrent duplicates (the same webhook delivered several times at once) both pass that
check, so the work is then claimed atomically (a SET NX claim with a short TTL, released if the
attempt fails): the others wait a moment and find the done-marker. The event's `unique_id` is
derived from ticket id + metric, so even a claim that expired mid-call makes Klaviyo store one.

M5: the event also sets the requester's count of open tickets on the profile: the change is
noted before the send or the parking, the count read under the requester's hold
(adapters/support_state.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.domain.coerce import as_id
from bridge.domain.metric_rules import OPENED, MetricEvent, build_event
from bridge.domain.model import Budget
from bridge.domain.support_rules import DEFAULT_PROPERTY
from bridge.errors import Deferred, TicketGone
from bridge.handlers import metric_burst
from bridge.handlers.runner import Done
from bridge.handlers.ticket_reads import read_people
from bridge.ports import QuotaPort, SmsApi, StorePort, TicketApi

People = tuple[dict[str, Any], dict[int, dict], dict[int, dict]]
CLAIM_WAIT = 3.0    # a duplicate checks back this much later (the holder is one call away)
# E6: an Opened Ticket whose ticket a create_many job made waits this often, for at most this
# long after the ticket's creation, for the drainer to read the job and remember the ticket.
JOB_READ_WAIT, MADE_WAIT = 2.0, 30.0


@dataclass
class MetricsDeps:
    store: StorePort
    zendesk: TicketApi
    klaviyo: SmsApi
    quota: QuotaPort
    events_budget: Budget
    zendesk_url: str
    clock: Callable[[], float] = time.time
    support_property: str = DEFAULT_PROPERTY       # M5's profile property
    sleep: Callable[[float], None] = time.sleep


def record_metric(ticket_id: int, metric: str, when: str, deps: MetricsDeps,
                  status: str | None = None, detail: dict[str, Any] | None = None) -> Done:
    """Send one metric event unless already recorded. `when` is the Zendesk time (ISO);
    `detail`, the ticket.created webhook's description of the ticket, if there is one."""
    if deps.store.ledger.metric_done(ticket_id, metric):
        return Done("dropped", "already_recorded", {"ticket_id": ticket_id})
    claim = f"metric:{ticket_id}:{metric}"
    if not deps.store.ledger.claim(claim):
        raise Deferred(CLAIM_WAIT, "a concurrent duplicate is recording this metric")
    try:
        return _record(ticket_id, metric, when, deps, status, detail)
    except BaseException:
        deps.store.ledger.release_claim(claim)     # nothing recorded: let a retry claim it
        raise


def _record(ticket_id: int, metric: str, when: str, deps: MetricsDeps,
            status: str | None, detail: dict[str, Any] | None) -> Done:
    made = _made_by_bridge(ticket_id, metric, deps, detail)
    if made is None and _job_not_read_yet(metric, when, detail, deps):
        raise Deferred(JOB_READ_WAIT, "the create_many job that made the ticket is not read yet")
    try:
        ticket, users, groups = made or read_people(ticket_id, deps.store, deps.zendesk,
                                                    deps.clock)
    except TicketGone:
        return Done("dropped", "ticket_gone", {"ticket_id": ticket_id})
    deps.store.conversations.cache_users(users)
    event = build_event(metric, ticket, users, groups, deps.zendesk_url, when,
                        status=(status or ticket.get("status") or "").lower() or None)
    if event is None:
        deps.store.ledger.mark_metric_done(ticket_id, metric, "no_profile_identity")
        return Done("dropped", "no_profile_identity", {"ticket_id": ticket_id})
    deps.store.support.note([event])
    if deps.quota.take(deps.events_budget) > 0:
        # A burst: rather than wait or exceed the limit, the event joins the next bulk call.
        metric_burst.buffer(deps.store, event)
        deps.store.outcomes.count("ticket_metric", "recorded", metric)
        return Done("applied", "bulk", {"ticket_id": ticket_id, "metric": metric})
    _send(event, deps)
    # By name, for /ops and /metrics (the job counters count events, not which metric).
    deps.store.outcomes.count("ticket_metric", "recorded", metric)
    return Done("applied", fields={"ticket_id": ticket_id, "metric": metric})


def _send(event: MetricEvent, deps: MetricsDeps) -> None:
    """One `POST /api/events`, its profile object carrying the requester's count (M5), read
    while this process alone sends for that requester."""
    with deps.store.support.stamped([event], deps.support_property, wait=CLAIM_WAIT,
                                    sleep=deps.sleep) as (e,):
        if e is None:
            raise Deferred(CLAIM_WAIT, "another event of this requester is being sent")
        deps.klaviyo.create_event(metric=e.metric, profile=e.profile, properties=e.properties,
                                  unique_id=e.unique_id, time=e.time)
        deps.store.ledger.mark_metric_done(e.ticket_id, e.metric)


def _made_by_bridge(ticket_id: int, metric: str, deps: MetricsDeps,
                    detail: dict[str, Any] | None) -> People | None:
    """E6: the Opened Ticket of a ticket the bridge made for a requester it made needs no read:
    the ticket as Zendesk answered its creation, with what the webhook says has changed since
    (status, priority, type, tags, group, assignee), its requester as the bridge made them, the
    group's name from a small cache. None (read it) for anything else, or an assigned ticket."""
    made = deps.store.ledger.made_ticket(ticket_id) if metric == OPENED and detail else None
    if made is None or detail is None or detail.get("assignee_id") is not None:
        return None
    ticket = {**made["ticket"], "assignee_id": None,
              **{k: str(detail[k]).lower() for k in ("status", "priority", "type")
                 if detail.get(k)}}
    if isinstance(detail.get("tags"), list):
        ticket["tags"] = detail["tags"]
    group_id = as_id(detail.get("group_id")) or as_id(ticket.get("group_id"))
    ticket["group_id"] = group_id
    requester = made["requester"]
    users = {int(requester["id"]): requester}
    return ticket, users, ({group_id: {"name": _group_name(group_id, deps)}} if group_id else {})


def _job_not_read_yet(metric: str, when: str, detail: dict[str, Any] | None,
                      deps: MetricsDeps) -> bool:
    """E6: the ticket.created webhook of a ticket a create_many job made can arrive before the
    drainer reads the job's answer and remembers the ticket (bulk_drain._remember_made). The
    Opened Ticket then waits a little rather than spend a read: during a flood those reads,
    one per new conversation, took the background lane's share of Zendesk's budget. Only for
    an unassigned ticket of a requester the bridge made, while a ticket job is in flight, and
    up to MADE_WAIT after the ticket's creation (`when`; then it is read, as any other is)."""
    if metric != OPENED or not detail or detail.get("assignee_id") is not None:
        return False
    requester = as_id(detail.get("requester_id"))
    if requester is None or deps.store.ledger.made_requester(requester) is None:
        return False
    try:
        created = datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return False
    return deps.clock() - created < MADE_WAIT and any(
        b.get("kind") == "ticket" for b in deps.store.bulk.batches())


def _group_name(group_id: int, deps: MetricsDeps) -> str | None:
    name = deps.store.conversations.group_name(group_id)
    if name is None:
        name = str(deps.zendesk.group(group_id).get("name") or "")
        deps.store.conversations.cache_group_name(group_id, name)
    return name or None
