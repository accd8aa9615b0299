"""Backfill (beyond the anchor): record Opened/Resolved Ticket for historical tickets, with
their real times and Klaviyo's `backfill: true` (no flows triggered).

Pages Zendesk's incremental export (with users and groups sideloaded, 10 requests/minute) from
`since`; sends events through the bulk endpoint (up to 1000 per call, 150 calls/minute).
Resumable: the export cursor is saved only after a page's events are all sent, and each sent
event leaves the same done-marker live sync uses, so an interrupted run repeats nothing and a
ticket live sync already recorded is skipped (and Klaviyo's unique_id covers any race).

Assumed for historical tickets: Opened Ticket carries `Status` "new" (the status a ticket is
created with) and Resolved Ticket's time is the ticket's `updated_at` (a closed ticket cannot
change after closing, so its last update is its closure).

M5: every event of a page (recorded before or not) is noted in the requesters' open tickets, so
a backfill from before M5 was deployed also teaches the bridge the tickets opened before it;
each bulk call carries the requesters' counts as they are when it is made
(adapters/support_state.py).

Brands (E7, #16): a backfill runs for one brand, inside its scope and with its settings (its
Klaviyo account): `wanted` keeps the tickets of that brand (the others are counted and skipped),
and the export cursor is the brand's own, so each brand's run over the same days resumes where
it stopped, not where another brand's stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridge.budgets import BULK_BUDGET, BULK_MAX, background_lane, export_budget
from bridge.domain.brand_scope import DEFAULT, current
from bridge.domain.metric_rules import OPENED, RESOLVED, MetricEvent, build_event
from bridge.domain.model import Budget
from bridge.domain.support_rules import DEFAULT_PROPERTY
from bridge.errors import RateLimited
from bridge.ports import QuotaPort, SmsApi, StorePort, TicketApi

HOLD_WAIT = 3.0     # for a requester a live event is being sent for: one call away


@dataclass
class BackfillDeps:
    store: StorePort
    zendesk: TicketApi
    klaviyo: SmsApi
    quota: QuotaPort
    zendesk_url: str
    export_budget: Budget = field(default_factory=export_budget)
    page_size: int = 1000
    sleep: Callable[[float], None] = time.sleep
    support_property: str = DEFAULT_PROPERTY       # M5's profile property
    wanted: Callable[[dict[str, Any]], bool] = lambda ticket: True   # the brand's tickets (E7)


@dataclass
class BackfillReport:
    tickets: int = 0
    events: int = 0            # events sent (or, in a dry run, that would be sent)
    skipped: int = 0           # already recorded (live sync or an earlier run)
    no_identity: int = 0       # requester with neither email nor phone
    other_brands: int = 0      # tickets of another brand, skipped (E7)
    bulk_calls: int = 0
    export_calls: int = 0
    by_metric: dict[str, int] = field(default_factory=dict)


def backfill(since: datetime, until: datetime | None, deps: BackfillDeps, *,
             dry_run: bool = False, on_page: Callable[[BackfillReport], None] = lambda r: None,
             ) -> BackfillReport:
    report = BackfillReport()
    key = cursor_key(since, until)
    cursor = None if dry_run else deps.store.ledger.get_value(key)
    for page in _pages(since, cursor, deps, report):
        events = list(_events(page, since, until, deps, report))
        pending = _not_done(events, deps, report)
        if not dry_run:
            deps.store.support.note(events)
            for chunk in _chunks(pending, BULK_MAX):
                _send_bulk(chunk, deps, report)
            if page.get("after_cursor"):
                deps.store.ledger.set_value(key, page["after_cursor"])
        report.events += len(pending)
        for e in pending:
            report.by_metric[e.metric] = report.by_metric.get(e.metric, 0) + 1
        on_page(report)
    return report


def cursor_key(since: datetime, until: datetime | None) -> str:
    """The export cursor of a run over these days: today's key for the default brand, the
    brand's own (`backfill@<brand>:...`) for another (E7)."""
    brand = current()
    head = "backfill" if brand == DEFAULT else f"backfill@{brand}"
    return f"{head}:{int(since.timestamp())}:{int(until.timestamp()) if until else 'now'}"


def _pages(since: datetime, cursor: str | None, deps: BackfillDeps,
           report: BackfillReport) -> Iterator[dict]:
    while True:
        _wait_for(deps.export_budget, deps)
        with background_lane():     # history never crowds out live texts (E6)
            page = deps.zendesk.export_page(start_time=int(since.timestamp()), cursor=cursor,
                                            include="users,groups", per_page=deps.page_size)
        report.export_calls += 1
        yield page
        cursor = page.get("after_cursor") or cursor
        if page.get("end_of_stream") or not page.get("tickets"):
            return


def _events(page: dict, since: datetime, until: datetime | None, deps: BackfillDeps,
            report: BackfillReport) -> Iterator[MetricEvent]:
    users = {int(u["id"]): u for u in page.get("users") or []}
    groups = {int(g["id"]): g for g in page.get("groups") or []}
    for ticket in page.get("tickets") or []:
        report.tickets += 1
        if not deps.wanted(ticket):
            report.other_brands += 1
            continue
        created, updated = _at(ticket.get("created_at")), _at(ticket.get("updated_at"))
        wanted = []
        if created and _within(created, since, until):
            wanted.append((OPENED, ticket["created_at"], "new"))
        if str(ticket.get("status")).lower() == "closed" and updated and \
                _within(updated, since, until):
            wanted.append((RESOLVED, ticket["updated_at"], "closed"))
        for metric, when, status in wanted:
            event = build_event(metric, ticket, users, groups, deps.zendesk_url, when, status)
            if event is None:
                report.no_identity += 1
            else:
                yield event


def _not_done(events: list[MetricEvent], deps: BackfillDeps,
              report: BackfillReport) -> list[MetricEvent]:
    done = deps.store.ledger.metrics_done([(e.ticket_id, e.metric) for e in events])
    report.skipped += sum(done)
    return [e for e, d in zip(events, done, strict=True) if not d]


def _send_bulk(events: list[MetricEvent], deps: BackfillDeps, report: BackfillReport) -> None:
    """One bulk call per round; an event whose requester a live event is being sent for waits
    for the next round (M5: the counts are read under the requesters' holds)."""
    while events:
        _wait_for(BULK_BUDGET, deps)
        retry_after = None
        with deps.store.support.stamped(events, deps.support_property, wait=HOLD_WAIT,
                                        sleep=deps.sleep) as stamped:
            ready = [e for e in stamped if e is not None]
            try:
                if ready:
                    deps.klaviyo.bulk_create_events(ready, backfill=True)
            except RateLimited as e:
                retry_after = e.retry_after
        if retry_after is not None:
            deps.sleep(retry_after)
            continue
        report.bulk_calls += 1 if ready else 0
        for e in ready:
            deps.store.ledger.mark_metric_done(e.ticket_id, e.metric, "backfill")
        events = [e for e, s in zip(events, stamped, strict=True) if s is None]


def _wait_for(budget: Budget, deps: BackfillDeps) -> None:
    while (wait := deps.quota.take(budget)) > 0:
        deps.sleep(wait)


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _at(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _within(moment: datetime, since: datetime, until: datetime | None) -> bool:
    return moment >= since and (until is None or moment < until)
