"""Burst mode for metric events: parked events go out in bulk batches, survive a dead
flusher, and are put back when Klaviyo is briefly unavailable."""

from __future__ import annotations

import json

import fakeredis
import requests

from bridge.adapters import redis_keys
from bridge.adapters.klaviyo import KlaviyoClient
from bridge.adapters.store import Store
from bridge.domain.metric_rules import OPENED, MetricEvent
from bridge.errors import Permanent, Retryable
from bridge.handlers import metric_burst as metrics_bulk
from bridge.ops import failed_jobs


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


# --- issue 13: batches capped by size; a refused batch costs only its bad events ---------------

class Go:
    """A quota that always has room (the per-second budget is not what these tests check)."""

    def take(self, *budgets: object) -> float:
        return 0.0


class CapturingSession(requests.Session):
    """Records the body of every bulk call and answers 202, like Klaviyo."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []

    def request(self, method: str, url: str, **kwargs: object) -> requests.Response:  # type: ignore[override]
        prepared = requests.Request(method, url, json=kwargs.get("json")).prepare()
        self.bodies.append(prepared.body or b"")
        resp = requests.Response()
        resp.status_code = 202
        resp._content = b""
        return resp


class Refuses:
    """Refuses (400) any batch holding one of `bad` unique ids, as Klaviyo refuses a job."""

    def __init__(self, *bad: str) -> None:
        self.bad, self.calls, self.sent = set(bad), 0, []

    def bulk_create_events(self, events: list[MetricEvent], backfill: bool = False) -> None:
        self.calls += 1
        if any(e.unique_id in self.bad for e in events):
            raise Permanent("klaviyo", "POST event-bulk-create-jobs answered 400", 400)
        self.sent.extend(e.unique_id for e in events)


def big_event(i: int, size: int) -> MetricEvent:
    return MetricEvent(OPENED, i, "2026-11-25T10:00:00Z", {"email": f"c{i}@example.com"},
                       {"Ticket_id": i, "Description": "é" * size},
                       f"zendesk-ticket-{i}-opened")


def test_a_bulk_call_never_carries_more_than_5_mb() -> None:
    store = Store(fakeredis.FakeRedis())
    store.quota = Go()
    for i in range(12):   # 12 events of ~1 MB of JSON each ("é" is written \\u00e9)
        metrics_bulk.buffer(store, big_event(i, 170_000))
    session = CapturingSession()
    klaviyo = KlaviyoClient("https://a.klaviyo.com", api_key="pk_x", revision="2026-07-15",
                            session=session)
    assert metrics_bulk.flush(store, klaviyo, now=1000.0) == 12
    assert len(session.bodies) >= 3
    assert max(len(b) for b in session.bodies) <= 5 * 1000 * 1000


def test_a_refused_batch_is_split_so_only_the_bad_event_fails_and_it_can_be_replayed() -> None:
    store = Store(fakeredis.FakeRedis())
    store.quota = Go()
    for i in range(1000):
        metrics_bulk.buffer(store, event(i))
    klaviyo = Refuses("zendesk-ticket-417-opened")
    assert metrics_bulk.flush(store, klaviyo, now=1000.0) == 999
    assert klaviyo.calls <= 2 * 10 + 1      # halving: about two calls per level
    [entry] = store.outcomes.failed().values()
    assert entry["ref"] == "metric:zendesk-ticket-417-opened" and entry["replayable"]
    assert store.client.llen(redis_keys.METRICS_PENDING) == 0
    shown = failed_jobs.get_failed(store, entry["ref"])
    assert shown is not None and "ticket 417" in shown["summary"]

    klaviyo.bad.clear()        # fixed upstream (or the event was at fault and Klaviyo relents)
    line = failed_jobs.replay(store, entry["ref"], lambda *a: None, lambda *a: None)
    assert ": replayed:" in line
    assert store.outcomes.failed_entry(entry["ref"]) is not None   # until Klaviyo takes it
    assert metrics_bulk.flush(store, klaviyo, now=1010.0) == 1
    assert klaviyo.sent.count("zendesk-ticket-417-opened") == 1
    assert store.outcomes.failed() == {}


def test_a_whole_batch_refused_by_an_older_version_is_said_not_replayable() -> None:
    store = Store(fakeredis.FakeRedis())
    ref = "metrics:bulk:inflight:900:abc"
    store.outcomes.record_failure(ref, "bridge.flush_metrics",
                                  Permanent("klaviyo", "400", 400), 1, 900.0)
    line = failed_jobs.replay(store, ref, lambda *a: None, lambda *a: None)
    assert "not replayed" in line and "purge" in line
    assert failed_jobs.purge(store, [ref]) == 1
