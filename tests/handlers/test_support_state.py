"""M5, support state on the profile: `Opened Ticket` / `Resolved Ticket` also set `Open support
tickets` (the requester's not-closed tickets the bridge knows of) inside the event's profile
object, so no extra Klaviyo call; kept right across duplicates, out-of-order events, bursts
(bulk), the catch-up sweep and the backfill."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.domain.metric_rules import OPENED, RESOLVED
from bridge.domain.model import Budget
from bridge.errors import Deferred
from bridge.handlers import metric_burst
from bridge.handlers.reconcile import ReconcileDeps, reconcile
from bridge.handlers.ticket_metric import MetricsDeps, record_metric
from bridge.ops.backfill import BackfillDeps, backfill
from tests.fakes import Clock, FakeKlaviyo, FakeZendesk, store

WHEN = "2026-11-25T10:12:07Z"
EMAIL = "alice@example.com"
OPEN_TICKETS = "Open support tickets"


class Support:
    """One requester (Alice) and her tickets, the metrics handler and Klaviyo's profile."""

    def __init__(self, events_per_minute: int = 100) -> None:
        self.clock = Clock()
        self.store = store()
        self.zendesk = FakeZendesk()
        self.klaviyo = FakeKlaviyo()
        self.deps = MetricsDeps(store=self.store, zendesk=self.zendesk, klaviyo=self.klaviyo,
                                quota=self.store.quota,
                                events_budget=Budget("klaviyo-events", ((events_per_minute,
                                                                         60.0),)),
                                zendesk_url="https://acme.zendesk.com", clock=self.clock,
                                sleep=self.clock.sleep)
        self.alice = self.zendesk.add_user("Alice", email=EMAIL)

    def ticket(self, requester: int | None = None) -> int:
        return self.zendesk.add_ticket(requester_id=requester or self.alice, status="open",
                                       subject="Where is my order?")

    def opened(self, tid: int) -> str:
        return record_metric(tid, OPENED, WHEN, self.deps).outcome

    def closed(self, tid: int) -> str:
        self.zendesk.tickets[tid]["status"] = "closed"
        return record_metric(tid, RESOLVED, WHEN, self.deps, status="closed").outcome

    def flush(self) -> int:
        return metric_burst.flush(self.store, self.klaviyo, now=self.clock())

    def shown(self, who: str = EMAIL) -> object:
        """What Klaviyo's profile shows now (the last event processed wins)."""
        return self.klaviyo.profile_properties.get(who, {}).get(OPEN_TICKETS)


def test_m5_opened_sets_one_and_resolved_sets_zero_with_no_extra_klaviyo_call() -> None:
    support = Support()
    tid = support.ticket()
    support.opened(tid)
    assert support.shown() == 1
    support.closed(tid)
    assert support.shown() == 0
    assert support.klaviyo.calls["create_event"] == 2           # one per event, nothing more
    assert [e["profile"] for e in support.klaviyo.events] == [{"email": EMAIL}] * 2


@pytest.mark.parametrize("first_closed", [0, 1])
def test_m5_two_tickets_closed_in_either_order_end_at_zero(first_closed: int) -> None:
    support = Support()
    tickets = [support.ticket(), support.ticket()]
    for tid in tickets:
        support.opened(tid)
    assert support.shown() == 2
    support.closed(tickets[first_closed])
    assert support.shown() == 1                                  # one still open
    support.closed(tickets[1 - first_closed])
    assert support.shown() == 0


def test_m5_a_duplicate_opened_counts_the_ticket_once() -> None:
    support = Support()
    tid = support.ticket()
    support.opened(tid)
    assert support.opened(tid) == "dropped"                      # the duplicate webhook
    assert support.shown() == 1
    support.closed(tid)
    assert support.shown() == 0


def test_m5_a_resolved_handled_before_its_opened_leaves_the_ticket_uncounted() -> None:
    """Out of order (webhooks are unordered; the sweep asks for both at once): the late
    Opened Ticket is still sent, and carries the count without its closed ticket."""
    support = Support()
    late, other = support.ticket(), support.ticket()
    support.closed(late)
    assert support.shown() == 0
    support.opened(late)
    assert support.shown() == 0
    support.opened(other)
    assert support.shown() == 1
    assert [e["metric"] for e in support.klaviyo.events] == [RESOLVED, OPENED, OPENED]


def test_m5_the_count_is_the_requesters_own() -> None:
    support = Support()
    bob = support.zendesk.add_user("Bob", phone="+15005550101")
    support.opened(support.ticket())
    support.opened(support.ticket(bob))
    assert support.shown() == 1
    assert support.shown("+15005550101") == 1


def test_m5_a_ticket_the_bridge_made_is_counted_without_a_zendesk_read() -> None:
    """E6's Opened Ticket built from the creation's answer carries the requester too."""
    support = Support()
    tid = support.ticket()
    support.store.ledger.remember_made_ticket(tid, {
        "ticket": {"id": tid, "subject": "SMS", "status": "new", "requester_id": support.alice},
        "requester": {"id": support.alice, "email": EMAIL}})
    record_metric(tid, OPENED, WHEN, support.deps, detail={"status": "NEW"})
    assert support.zendesk.calls["ticket_with_people"] == 0
    assert support.shown() == 1


def test_m5_an_event_parked_in_a_burst_carries_the_count_of_when_it_is_flushed() -> None:
    """An Opened is parked (budget spent); both closures go out directly before the flush. Had
    the parked event kept its count from parking (2), it would overwrite the closures' 0."""
    support = Support(events_per_minute=1)
    first, parked = support.ticket(), support.ticket()
    support.opened(first)
    support.opened(parked)                                       # parked for the bulk call
    assert support.shown() == 1
    support.deps.events_budget = Budget("klaviyo-events-later", ((100, 60.0),))  # budget back
    support.closed(parked)
    support.closed(first)
    assert support.shown() == 0
    assert support.flush() == 1
    assert support.shown() == 0
    (job,) = support.klaviyo.bulk_jobs
    assert [e.profile["properties"][OPEN_TICKETS] for e in job] == [0]


def test_m5_a_second_process_sending_for_the_same_requester_waits_its_turn() -> None:
    """The read of the count and the call carrying it happen for one requester at a time, so
    the last call Klaviyo gets carries the latest count."""
    support = Support()
    tid = support.ticket()
    assert support.store.support.hold([support.alice], "a peer") == [True]
    with pytest.raises(Deferred):
        support.opened(tid)
    assert support.klaviyo.calls["create_event"] == 0
    support.store.support.let_go([support.alice], "a peer")
    assert support.opened(tid) == "applied"
    assert support.shown() == 1


def test_m5_a_flush_leaves_a_busy_requesters_event_for_the_next_flush() -> None:
    support = Support(events_per_minute=1)
    support.opened(support.ticket())
    parked = support.ticket()
    support.opened(parked)
    support.store.support.hold([support.alice], "a peer")
    assert support.flush() == 0
    support.store.support.let_go([support.alice], "a peer")
    assert support.flush() == 1
    assert support.shown() == 2


def test_m5_the_sweeps_catch_up_events_set_the_count_too_and_a_deleted_ticket_stops_counting(
        ) -> None:
    """M4's sweep asks record_metric for what webhooks missed (the same path, so the same
    count), and forgets tickets the export shows deleted."""
    support = Support()
    kept, deleted = support.ticket(), support.ticket()
    for tid in (kept, deleted):
        support.opened(tid)
    support.zendesk.tickets[deleted]["status"] = "deleted"
    support.zendesk.tickets[kept].update(status="closed", created_at=WHEN, updated_at=WHEN)
    asked: list[tuple[int, str, str]] = []
    reconcile(ReconcileDeps(store=support.store, zendesk=support.zendesk,
                            quota=support.store.quota,
                            enqueue_metric=lambda *a: asked.append(a[:3])), support.clock())
    for tid, metric, when in asked:
        record_metric(tid, metric, when, support.deps, status="closed")
    assert (kept, RESOLVED) in [(tid, metric) for tid, metric, _ in asked]
    assert support.shown() == 0


def test_m5_backfill_carries_the_counts_and_learns_tickets_live_sync_recorded_before_m5(
        ) -> None:
    support = Support()
    old = support.ticket()                        # opened and recorded before M5 was deployed
    support.store.ledger.mark_metric_done(old, OPENED)
    recent = support.ticket()
    for tid in (old, recent):
        support.zendesk.tickets[tid].update(created_at="2026-01-02T00:00:00Z",
                                            updated_at="2026-01-02T00:00:00Z")
    deps = BackfillDeps(store=support.store, zendesk=support.zendesk, klaviyo=support.klaviyo,
                        quota=support.store.quota, zendesk_url="https://acme.zendesk.com",
                        sleep=support.clock.sleep)
    backfill(datetime(2026, 1, 1, tzinfo=UTC), None, deps)
    (job,) = support.klaviyo.bulk_jobs
    assert [e.ticket_id for e in job] == [recent]
    assert support.shown() == 2
