"""Redis restarting under the bridge (found by tests/chaos): an event's state never goes back to
"queued" once a worker finished it, and a task whose handler loses Redis runs it again once
Redis answers instead of failing (a failed task is acknowledged: its event would be lost)."""

from __future__ import annotations

import fakeredis
import pytest
import redis

import workers.base as base
from bridge.adapters.store import Store
from bridge.domain.model import RawEvent


def test_an_event_finished_before_the_receiver_marks_it_queued_stays_done() -> None:
    store = Store(fakeredis.FakeRedis())
    fast, slow = (RawEvent("zendesk", i, "zen:event-type:ticket.created", {}) for i in "ab")
    store.events.save_events([fast, slow], now=1000.0)
    # a worker was quicker than the receiver
    store.events.update_event(fast.ref, state="done")
    store.events.settle_receipt("zendesk", [fast.ref, slow.ref], [], received=2)
    assert store.events.load_event(fast.ref)["state"] == "done"
    assert store.events.load_event(slow.ref)["state"] == "queued"
    store.events.update_event(slow.ref, state="failed")
    store.events.mark_queued([slow.ref, "zendesk:never-stored"])   # the sweep, late
    assert store.events.load_event(slow.ref)["state"] == "failed"
    assert not store.client.exists("zkb:ev:zendesk:never-stored")


class FlakyRedis:
    """PING refuses `down` times, then answers."""

    def __init__(self, down: int) -> None:
        self.down = down

    def ping(self) -> bool:
        if self.down:
            self.down -= 1
            raise redis.ConnectionError("Connection refused")
        return True


def _patch(monkeypatch: pytest.MonkeyPatch, client: FlakyRedis) -> None:
    monkeypatch.setattr(base.deps, "ping", client.ping)
    monkeypatch.setattr(base.time, "sleep", lambda s: None)


def test_a_handler_that_loses_redis_runs_again_once_redis_answers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _patch(monkeypatch, FlakyRedis(down=3))
    calls = []

    def handler() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise redis.ConnectionError("Connection closed by server.")
        return "applied"

    assert base.through_redis_outage(handler) == "applied"
    assert len(calls) == 2


def test_a_handler_gives_up_when_redis_stays_away(monkeypatch: pytest.MonkeyPatch) -> None:
    _patch(monkeypatch, FlakyRedis(down=10**9))
    monkeypatch.setattr(base, "REDIS_OUTAGE_WAIT", 0.0)

    def handler() -> str:
        raise redis.TimeoutError("Timeout reading from socket")

    with pytest.raises(redis.TimeoutError):
        base.through_redis_outage(handler)
