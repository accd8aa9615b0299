"""E6 with fakes (#11): the ticket read behind an Opened / Resolved Ticket is shared under a
backlog: reads the Zendesk budget refused stay wanted, and the next metric task that gets the
budget reads them all in one tickets/show_many call; each event is then the one a single read
gives. Quiet, a metric still costs one single read."""

from __future__ import annotations

from bridge.domain.metric_rules import OPENED
from bridge.errors import RateLimited
from bridge.handlers.ticket_metric import record_metric
from tests.handlers.test_ticket_metric import WHEN, Metrics


def budget_spent() -> RateLimited:
    return RateLimited("zendesk", 5.0, local=True)


def refused(metrics: Metrics, ticket_id: int) -> None:
    """The metric's read, refused by the Zendesk budget (whichever read it tries: alone, or
    show_many when other reads wait too)."""
    waiting = metrics.store.reads.wanted(100, metrics.clock())
    metrics.zendesk.fail_next("tickets_with_people" if waiting else "ticket_with_people",
                              budget_spent())
    try:
        record_metric(ticket_id, OPENED, WHEN, metrics.deps)
    except RateLimited:
        return
    raise AssertionError("the read was not refused")


def test_quiet_a_metric_reads_its_ticket_alone() -> None:
    metrics = Metrics()
    tid = metrics.ticket(email="alice@example.com")
    assert record_metric(tid, OPENED, WHEN, metrics.deps).outcome == "applied"
    assert dict(metrics.zendesk.calls) == {"ticket_with_people": 1}


def test_reads_the_budget_refused_are_made_in_one_show_many_by_the_next_task() -> None:
    metrics = Metrics()
    tickets = [metrics.ticket(email=f"c{i}@example.com") for i in range(5)]
    for tid in tickets[:4]:
        refused(metrics, tid)                     # a backlog: each waits for the budget
    assert metrics.klaviyo.events == []
    metrics.zendesk.calls.clear()
    record_metric(tickets[4], OPENED, WHEN, metrics.deps)     # gets the budget: reads for all
    assert dict(metrics.zendesk.calls) == {"tickets_with_people": 1}
    for tid in tickets[:4]:                                   # the retries find theirs
        assert record_metric(tid, OPENED, WHEN, metrics.deps).outcome == "applied"
    assert dict(metrics.zendesk.calls) == {"tickets_with_people": 1}
    shared = {e["unique_id"]: e for e in metrics.klaviyo.events}
    assert len(shared) == 5
    single = Metrics()                            # the same tickets, read one by one
    for i in range(5):
        single.ticket(email=f"c{i}@example.com")
    for tid in tickets:
        record_metric(tid, OPENED, WHEN, single.deps)
    assert {e["unique_id"]: e for e in single.klaviyo.events} == shared


def test_a_ticket_deleted_before_the_shared_read_is_dropped_as_gone() -> None:
    metrics = Metrics()
    gone, alive = (metrics.ticket(email=f"c{i}@example.com") for i in range(2))
    refused(metrics, gone)
    del metrics.zendesk.tickets[gone]
    assert record_metric(alive, OPENED, WHEN, metrics.deps).outcome == "applied"
    done = record_metric(gone, OPENED, WHEN, metrics.deps)
    assert (done.outcome, done.reason) == ("dropped", "ticket_gone")
    assert metrics.store.reads.wanted(100, metrics.clock()) == []


def test_a_shared_read_is_taken_once_so_a_later_event_reads_afresh() -> None:
    metrics = Metrics()
    first, second = (metrics.ticket(email=f"c{i}@example.com") for i in range(2))
    refused(metrics, first)
    record_metric(second, OPENED, WHEN, metrics.deps)
    assert metrics.store.reads.take(first) is not None
    assert metrics.store.reads.take(first) is None
