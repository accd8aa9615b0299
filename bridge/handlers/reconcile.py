"""Catch-up sweep (M4): find ticket creations and closures the webhooks missed.

Zendesk's own 28-day auto-close fires no trigger, and its circuit breaker drops webhook events;
marketers segment on these metrics, so a missing one matters. Every RECONCILE_INTERVAL_SECONDS
(celery beat) the sweep pages Zendesk's cursor-based incremental ticket export from a cursor
kept in Redis, and asks for each metric not yet recorded. The export allows 10 requests a
minute: pages take a token from a shared budget, and a sweep that runs out stops and resumes
from its cursor next time. What webhooks already did is skipped by the done-markers, and
Klaviyo's `unique_id` absorbs a race between the two.

Opened Ticket is recorded only for tickets created after the sweep first ran, less an hour of
look-back (no older history is imported without asking: that is `zkbridge backfill`). If Redis
loses the start and the cursor, the sweep starts an hour back again; done-markers lost with
them cost repeated Klaviyo calls, not duplicate events (unique_id).

M5: a ticket the export shows deleted stops counting among its requester's open tickets (no
webhook says so, and it will never close); the profile shows it from the requester's next event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bridge.budgets import export_budget
from bridge.domain.metric_rules import OPENED, RESOLVED
from bridge.domain.model import Budget
from bridge.ports import QuotaPort, StorePort, TicketApi

CURSOR_KEY = "reconcile:cursor"
START_KEY = "reconcile:start"


FIRST_LOOKBACK_SECONDS = 3600

# (ticket id, metric, time, the ticket's Zendesk brand id: which brand's account, E7)
ReconcileEnqueue = Callable[[int, str, str, int | None], None]


@dataclass
class ReconcileDeps:
    store: StorePort
    zendesk: TicketApi
    quota: QuotaPort
    enqueue_metric: ReconcileEnqueue
    budget: Budget = field(default_factory=export_budget)
    max_pages: int = 10


def reconcile(deps: ReconcileDeps, now: float) -> dict[str, int]:
    """One sweep. Returns counts of pages read and metrics asked for."""
    start = deps.store.ledger.get_value(START_KEY)
    if start is None:   # first run, or Redis lost it: look back a little, never all history
        start = str(int(now - FIRST_LOOKBACK_SECONDS))
        deps.store.ledger.set_value(START_KEY, start)
    cursor = deps.store.ledger.get_value(CURSOR_KEY)
    pages = asked = 0
    while pages < deps.max_pages:
        if deps.quota.take(deps.budget) > 0:
            break
        page = deps.zendesk.export_page(cursor=cursor, start_time=int(start))
        pages += 1
        asked += _missing(page.get("tickets") or [], int(start), deps)
        cursor = page.get("after_cursor") or cursor
        if cursor:
            deps.store.ledger.set_value(CURSOR_KEY, cursor)
        if page.get("end_of_stream"):
            break
    return {"pages": pages, "asked": asked}


def _missing(tickets: list[dict], start: int, deps: ReconcileDeps) -> int:
    wanted: list[tuple[int, str, str]] = []
    brand_ids = {int(t["id"]): _brand_id(t.get("brand_id")) for t in tickets}
    for t in tickets:
        tid = int(t["id"])
        if str(t.get("status") or "").lower() == "deleted":
            deps.store.support.forget(tid)
        if _epoch(t.get("created_at")) >= start:
            wanted.append((tid, OPENED, str(t.get("created_at"))))
        if str(t.get("status") or "").lower() == "closed":
            wanted.append((tid, RESOLVED, str(t.get("updated_at"))))
    done = deps.store.ledger.metrics_done([(tid, metric) for tid, metric, _ in wanted])
    asked = 0
    for (tid, metric, when), already in zip(wanted, done, strict=True):
        if not already:
            deps.enqueue_metric(tid, metric, when, brand_ids.get(tid))
            asked += 1
    return asked


def _brand_id(value: object) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def _epoch(value: object) -> float:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
