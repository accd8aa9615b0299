"""Beat: one publisher at a time (a lease in Redis), and the metrics flush published only when
metric events wait for it (workers/beat.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import fakeredis
import pytest

from bridge.adapters.beat_lock import BeatLease
from bridge.adapters.redis_keys import BEAT_LEASE
from bridge.adapters.store import Store
from workers import beat


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    s = Store(fakeredis.FakeRedis())
    monkeypatch.setattr(beat, "_store", lambda: s)
    return s


def standby_beat(owner: str) -> beat.OneBeat:
    b = object.__new__(beat.OneBeat)     # no Celery app needed to ask for the lease
    b.owner, b.holding = owner, False
    return b


def test_a_second_beat_stands_by_and_takes_over_when_the_lease_is_gone(store: Store) -> None:
    first, second = standby_beat("host-a:1"), standby_beat("host-b:2")
    assert first._hold() and not second._hold()
    assert first._hold() and not second._hold()          # renewing keeps it
    store.client.delete(BEAT_LEASE)                      # the first one died: its lease ran out
    assert second._hold() and not first._hold()


def test_a_beat_that_stops_gives_its_lease_back_and_only_its_own(store: Store) -> None:
    lease = BeatLease(store.client)
    assert lease.hold("a")
    lease.release("b")
    assert not lease.hold("b")
    lease.release("a")
    assert lease.hold("b")
    assert 0 < store.client.pttl(BEAT_LEASE) <= 30_000


def test_the_flush_is_due_only_while_metric_events_are_parked(store: Store) -> None:
    flush = beat.WhenParked(5.0, nowfun=lambda: datetime.now(UTC))
    ten_seconds_ago = datetime.now(UTC) - timedelta(seconds=10)
    assert flush.is_due(ten_seconds_ago) == (False, 5.0)
    store.metric_buffer.park('{"metric": "Opened Ticket"}', 7, "Opened Ticket")
    assert flush.is_due(ten_seconds_ago) == (True, 5.0)


def test_without_parked_events_the_flush_still_runs_every_five_minutes(store: Store) -> None:
    flush = beat.WhenParked(5.0, nowfun=lambda: datetime.now(UTC))
    assert flush.is_due(datetime.now(UTC) - timedelta(seconds=301)).is_due
    assert not flush.is_due(datetime.now(UTC) - timedelta(seconds=1)).is_due


def test_the_schedule_survives_beats_schedule_file() -> None:
    import pickle

    again = pickle.loads(pickle.dumps(beat.WhenParked(5.0, fallback=120.0)))
    assert (again.run_every, again.fallback) == (timedelta(seconds=5), timedelta(seconds=120))
