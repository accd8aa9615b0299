"""Ticket metrics (M1-M3) through `record_metric`: once per ticket and metric, on the requester's
profile, and parked for Klaviyo's bulk endpoint when the events budget is spent."""

from __future__ import annotations

import pytest

from bridge.domain.metric_rules import OPENED, PROPERTY_KEYS, RESOLVED
from bridge.domain.model import Budget
from bridge.errors import Deferred, Retryable
from bridge.handlers import metric_burst
from bridge.handlers.runner import Done
from bridge.handlers.ticket_metric import MetricsDeps, record_metric
from tests.fakes import Clock, FakeKlaviyo, FakeZendesk, store

WHEN = "2026-11-25T10:12:07Z"


class Metrics:
    def __init__(self, events_per_minute: int = 100) -> None:
        self.clock = Clock()
        self.store = store()
        self.zendesk = FakeZendesk()
        self.klaviyo = FakeKlaviyo()
        self.budget = Budget("klaviyo-events", ((events_per_minute, 60.0),))
        self.deps = MetricsDeps(store=self.store, zendesk=self.zendesk, klaviyo=self.klaviyo,
                                quota=self.store.quota, events_budget=self.budget,
                                zendesk_url="https://acme.zendesk.com", clock=self.clock)

    def ticket(self, **requester: str) -> int:
        agent = self.zendesk.add_user("Bo", email="bo@shop.test", role="agent")
        customer = self.zendesk.add_user("Alice", **requester)
        return self.zendesk.add_ticket(requester_id=customer, assignee_id=agent, status="open",
                                       subject="Where is my order?", tags=["sms"])

    def record(self, ticket_id: int, metric: str = OPENED, status: str | None = None) -> Done:
        return record_metric(ticket_id, metric, WHEN, self.deps, status=status)

    @property
    def recorded(self) -> list[tuple[str, str]]:
        return [(e["metric"], e["unique_id"]) for e in self.klaviyo.events]


def test_m1_opened_ticket_is_recorded_once_and_a_duplicate_costs_no_api_call() -> None:
    metrics = Metrics()
    tid = metrics.ticket(email="alice@example.com")
    assert metrics.record(tid).outcome == "applied"
    assert metrics.record(tid) == Done("dropped", "already_recorded", {"ticket_id": tid})
    assert metrics.recorded == [(OPENED, f"zendesk-ticket-{tid}-opened")]
    assert metrics.zendesk.calls["ticket_with_people"] == 1
    assert metrics.klaviyo.calls["create_event"] == 1


def test_m1_concurrent_duplicates_of_one_webhook_cost_one_klaviyo_call() -> None:
    """Five deliveries of one ticket.created at once all pass the done check; the first claims
    the work, the others wait and then find it recorded (#14)."""
    metrics = Metrics()
    tid = metrics.ticket(email="alice@example.com")
    fetch, waited = metrics.zendesk.ticket_with_people, []

    def meanwhile_four_duplicates(ticket_id: int):  # noqa: ANN202 - the fake's own tuple
        for _ in range(4):
            with pytest.raises(Deferred):
                metrics.record(tid)
            waited.append(1)
        return fetch(ticket_id)

    metrics.zendesk.ticket_with_people = meanwhile_four_duplicates  # type: ignore[method-assign]
    assert metrics.record(tid).outcome == "applied"
    assert len(waited) == 4
    assert [metrics.record(tid).reason for _ in range(4)] == ["already_recorded"] * 4
    assert metrics.klaviyo.calls["create_event"] == 1


def test_m1_a_failed_attempt_releases_its_claim_so_the_retry_goes_ahead() -> None:
    metrics = Metrics()
    tid = metrics.ticket(email="alice@example.com")
    metrics.klaviyo.fail_next("create_event", Retryable("klaviyo", "503"))
    with pytest.raises(Retryable):
        metrics.record(tid)
    assert metrics.record(tid).outcome == "applied"
    assert metrics.recorded == [(OPENED, f"zendesk-ticket-{tid}-opened")]


def test_m1_opened_and_resolved_are_recorded_once_each() -> None:
    metrics = Metrics()
    tid = metrics.ticket(email="alice@example.com")
    for metric in (OPENED, RESOLVED, OPENED, RESOLVED):
        metrics.record(tid, metric, status="closed" if metric == RESOLVED else None)
    assert metrics.recorded == [(OPENED, f"zendesk-ticket-{tid}-opened"),
                                (RESOLVED, f"zendesk-ticket-{tid}-resolved")]


def test_m2_m3_the_event_carries_the_tickets_properties_and_the_requesters_email() -> None:
    metrics = Metrics()
    tid = metrics.ticket(email="alice@example.com", phone="+15005550101")
    metrics.record(tid, RESOLVED, status="closed")
    (event,) = metrics.klaviyo.events
    assert event["profile"] == {"email": "alice@example.com"}
    assert tuple(event["properties"]) == PROPERTY_KEYS
    assert event["properties"]["Status"] == "closed"
    assert event["properties"]["Assignee_email"] == "bo@shop.test"
    assert event["properties"]["Zendesk_url"] == f"https://acme.zendesk.com/agent/tickets/{tid}"
    assert event["time"] == WHEN


def test_m3_a_requester_without_email_is_recorded_by_phone() -> None:
    metrics = Metrics()
    tid = metrics.ticket(phone="+15005550101")
    metrics.record(tid)
    assert metrics.klaviyo.events[0]["profile"] == {"phone_number": "+15005550101"}


def test_a_deleted_ticket_is_dropped_without_an_event() -> None:
    metrics = Metrics()
    assert metrics.record(4040) == Done("dropped", "ticket_gone", {"ticket_id": 4040})
    assert metrics.klaviyo.events == []


def test_m3_a_requester_with_no_email_or_phone_is_dropped_and_not_asked_about_again() -> None:
    metrics = Metrics()
    tid = metrics.ticket()
    assert metrics.record(tid).reason == "no_profile_identity"
    assert metrics.record(tid).reason == "already_recorded"
    assert metrics.klaviyo.events == []
    assert metrics.zendesk.calls["ticket_with_people"] == 1


def test_the_agents_seen_with_a_ticket_serve_the_a3_email_check_later() -> None:
    metrics = Metrics()
    tid = metrics.ticket(email="alice@example.com")
    agent = metrics.zendesk.tickets[tid]["assignee_id"]
    metrics.record(tid)
    assert metrics.store.conversations.agent_email(agent) == "bo@shop.test"


def test_when_the_events_budget_is_spent_the_event_is_parked_and_flushed_in_bulk_once() -> None:
    metrics = Metrics(events_per_minute=1)
    first, second = metrics.ticket(email="a@example.com"), metrics.ticket(email="b@example.com")
    metrics.record(first)
    assert metrics.record(second) == Done("applied", "bulk",
                                          {"ticket_id": second, "metric": OPENED})
    assert metrics.recorded == [(OPENED, f"zendesk-ticket-{first}-opened")]
    assert metrics.record(second).reason == "already_recorded"     # a duplicate webhook

    assert metric_burst.flush(metrics.store, metrics.klaviyo, now=metrics.clock()) == 1
    assert metric_burst.flush(metrics.store, metrics.klaviyo, now=metrics.clock() + 5) == 0
    assert [[e.unique_id for e in job] for job in metrics.klaviyo.bulk_jobs] == [
        [f"zendesk-ticket-{second}-opened"]]
    assert metrics.recorded == [(OPENED, f"zendesk-ticket-{first}-opened"),
                                (OPENED, f"zendesk-ticket-{second}-opened")]
    assert metrics.store.outcomes.counters()["ticket_metric:processed:bulk"] == 1


def test_recorded_metrics_are_counted_by_name_sent_or_parked_never_for_a_duplicate() -> None:
    metrics = Metrics(events_per_minute=2)     # one fits the budget, the next is parked
    first, second = (metrics.ticket(email=f"c{i}@example.com") for i in (1, 2))
    metrics.record(first)
    metrics.record(first)                      # duplicate: not counted again
    metrics.record(second)
    metrics.record(first, RESOLVED, status="closed")
    counters = metrics.store.outcomes.counters()
    assert counters["ticket_metric:recorded:Opened Ticket"] == 2
    assert counters["ticket_metric:recorded:Resolved Ticket"] == 1
