"""E2 backoff: an event's wait after a failure grows with its failed attempts, not with the
task's Celery retries, most of which are waits for a budget or for a busy queue."""

from __future__ import annotations

import fakeredis
import pytest
from celery import Celery

import workers.base as base
from bridge.adapters.store import Store
from bridge.domain.model import RawEvent
from bridge.errors import Retryable
from bridge.handlers.runner import Done, Runner


class Retried(Exception):
    def __init__(self, countdown: float) -> None:
        self.countdown = countdown


class RecordedTask(base.BridgeTask):
    """Asks for its retry by raising it, instead of publishing it."""

    def retry(self, countdown: float = 0, **_: object) -> Retried:
        raise Retried(countdown)


def _failing_runner(store: Store) -> Runner:
    def process(ref: str, event: dict) -> Done:
        raise Retryable("zendesk", "503 Service Unavailable", 503)
    return Runner(store=store, kind="ticket_event", source="zendesk", task="t",
                  process=process, max_attempts=8)


@pytest.fixture
def run_as_task(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """Run a handler the way a task does, after `retries` Celery retries; answer the countdown
    the task asked for."""
    monkeypatch.setattr(base.deps, "count_retry", lambda task, why: None)
    handler: list = []

    def handler_task(self: base.BridgeTask) -> str:
        return handler[-1]()

    app = Celery("test-task-backoff", set_as_current=False)
    task = app.task(base=RecordedTask, bind=True, name="bridge.t", shared=False)(handler_task)

    def run(fn, retries: int) -> float:  # noqa: ANN001
        handler.append(fn)
        with pytest.raises(Retried) as raised:
            task.apply(retries=retries, throw=True)
        return raised.value.countdown
    return run


def test_the_first_failure_after_many_budget_waits_backs_off_briefly(run_as_task) -> None:
    store = Store(fakeredis.FakeRedis())
    runner = _failing_runner(store)
    countdowns = []
    for n in range(20):
        event = RawEvent("zendesk", f"e{n}", "zen:event-type:ticket.created", {})
        store.events.save_events([event], now=1000.0)
        countdowns.append(run_as_task(lambda ref=event.ref: runner.run_event(ref), retries=60))
        assert store.events.load_event(event.ref)["attempts"] == "1"
    assert max(countdowns) <= 1.0          # attempt 1: up to 2**0 s, whatever the retries


def test_the_backoff_grows_with_the_event_s_own_attempts(run_as_task) -> None:
    store = Store(fakeredis.FakeRedis())
    event = RawEvent("zendesk", "late", "zen:event-type:ticket.created", {})
    store.events.save_events([event], now=1000.0)
    runner = _failing_runner(store)
    countdowns = []
    for _ in range(30):
        store.client.hset(f"zkb:ev:{event.ref}", "attempts", 5)   # this failure is the sixth
        countdowns.append(run_as_task(lambda: runner.run_event(event.ref), retries=0))
    assert all(0.5 <= c <= 2 ** 5 for c in countdowns)
    assert max(countdowns) > 2             # first retry of the task, yet a long wait


def test_without_an_attempt_count_the_task_retries_set_the_backoff(run_as_task) -> None:
    def fails() -> str:
        raise Retryable("klaviyo", "timed out")
    assert all(run_as_task(fails, retries=0) <= 1.0 for _ in range(20))
