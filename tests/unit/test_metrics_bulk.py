"""Burst mode for metric events: parked events go out in bulk batches, survive a dead
flusher, and are put back when Klaviyo is briefly unavailable."""

from __future__ import annotations

import json

import fakeredis

from bridge.adapters import redis_keys
from bridge.adapters.store import Store
from bridge.domain.metric_rules import OPENED, MetricEvent
from bridge.errors import Retryable
from bridge.handlers import metric_burst as metrics_bulk


class FakeKlaviyo:
    def __init__(self, fail: int = 0) -> None:
        self.batches: list[list[MetricEvent]] = []
        self.fail = fail

    def bulk_create_events(self, events: list[MetricEvent], backfill: bool = False) -> None:
        if self.fail:
            self.fail -= 1
            raise Retryable("klaviyo", "503")
        self.batches.append(events)


def event(i: int) -> MetricEvent:
    return MetricEvent(OPENED, i, "2026-11-25T10:00:00Z", {"email": f"c{i}@example.com"},
                       {"Ticket_id": i}, f"zendesk-ticket-{i}-opened")


def test_parked_events_go_out_in_batches_of_at_most_1000() -> None:
    store = Store(fakeredis.FakeRedis())
    for i in range(2500):
        metrics_bulk.buffer(store, event(i))
    assert store.ledger.metric_done(7, OPENED)      # a duplicate webhook now costs nothing
    klaviyo = FakeKlaviyo()
    assert metrics_bulk.flush(store, klaviyo, now=1000.0) == 2500
    assert [len(b) for b in klaviyo.batches] == [1000, 1000, 500]
    assert store.client.llen(redis_keys.METRICS_PENDING) == 0


def test_a_batch_klaviyo_could_not_take_waits_for_the_next_flush() -> None:
    store = Store(fakeredis.FakeRedis())
    metrics_bulk.buffer(store, event(1))
    klaviyo = FakeKlaviyo(fail=1)
    assert metrics_bulk.flush(store, klaviyo, now=1000.0) == 0
    assert metrics_bulk.flush(store, klaviyo, now=1001.0) == 1
    assert [e.ticket_id for b in klaviyo.batches for e in b] == [1]


def test_a_batch_left_in_flight_by_a_dead_flusher_is_sent_again() -> None:
    store = Store(fakeredis.FakeRedis())
    store.client.rpush(f"{redis_keys.METRICS_INFLIGHT}900:dead", json.dumps(event(5).__dict__))
    klaviyo = FakeKlaviyo()
    assert metrics_bulk.flush(store, klaviyo, now=1000.0) == 0  # not stale yet
    assert metrics_bulk.flush(store, klaviyo, now=1100.0) == 1
    assert klaviyo.batches[0][0].unique_id == "zendesk-ticket-5-opened"
