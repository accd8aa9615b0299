"""BridgeTask (workers/base.py) and its retry policy (workers/retry_policy.py): every task's
failures are classified in one place, E2's countdowns are reproduced exactly, and every log line
of a task names the task and its event."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
import redis
from celery import Celery

import workers.base as base
from bridge.adapters.logs import JsonFormatter
from bridge.errors import Deferred, FailedAttempt, Permanent, QueueBusy, RateLimited, Retryable
from workers import log_context
from workers.retry_policy import MAX_COUNTDOWN, backoff, countdown_for, retry_for, why_for


def low(a: float, b: float) -> float:
    """Jitter at its lower end."""
    return a


def high(a: float, b: float) -> float:
    """Jitter at its upper end."""
    return b


def retryable() -> Retryable:
    return Retryable("zendesk", "503 Service Unavailable", 503)


# --- the policy: pure ------------------------------------------------------------------------

def test_a_busy_queue_is_checked_back_sooner_at_first_then_at_most_every_30_s() -> None:
    busy = QueueBusy("queue busy")
    assert [countdown_for(busy, n, high) for n in (0, 1, 2, 5, 6, 50)] == [1, 2, 4, 30, 30, 30]
    assert countdown_for(busy, 3, low) == 4.0                     # 2**3 x 0.5
    assert why_for(busy) == "queue_busy"


def test_a_deferral_waits_its_retry_after_plus_a_fifth_of_a_second_at_most() -> None:
    later = Deferred(7.0, "peer still sending")
    assert (countdown_for(later, 0, low), countdown_for(later, 99, high)) == (7.0, 7.2)
    assert why_for(later) == "deferred"


def test_a_429_waits_its_retry_after_plus_up_to_a_second_and_is_told_from_our_budget() -> None:
    upstream, ours = RateLimited("klaviyo", 12.0), RateLimited("klaviyo", 3.0, local=True)
    assert (countdown_for(upstream, 0, low), countdown_for(upstream, 0, high)) == (12.0, 13.0)
    assert (why_for(upstream), why_for(ours)) == ("rate_limited", "budget")
    assert countdown_for(ours, 0, high) == 4.0


def test_a_failed_attempt_backs_off_by_the_event_s_attempts_not_the_task_s_retries() -> None:
    first, sixth = FailedAttempt(retryable(), 1), FailedAttempt(retryable(), 6)
    assert countdown_for(first, 60, high) == 1          # 2**0, though the task retried 60 times
    assert countdown_for(sixth, 0, high) == 32          # 2**5 on the task's first retry
    assert countdown_for(sixth, 0, low) == 0.5
    assert why_for(sixth) == "retryable"


def test_a_plain_retryable_error_backs_off_by_the_task_s_retries() -> None:
    assert [countdown_for(retryable(), n, high) for n in (0, 3, 6, 7, 10, 40)] == [
        1, 8, 64, 120, 120, 120]
    assert backoff(4, low) == 0.5


def test_no_countdown_exceeds_the_cap_however_long_the_wait_asked_for() -> None:
    for error in (Deferred(900.0, "x"), RateLimited("zendesk", 3600.0),
                  FailedAttempt(retryable(), 40), retryable()):
        assert countdown_for(error, 1000, high) == MAX_COUNTDOWN
    assert countdown_for(QueueBusy("q"), 1000, high) == 30


def test_errors_retrying_cannot_help_are_not_retried() -> None:
    for error in (Permanent("zendesk", "422"), FailedAttempt(Permanent("zendesk", "422"), 2),
                  FailedAttempt(KeyError("x"), 1), ValueError("bug")):
        assert why_for(error) is None and retry_for(error, 0) is None


def test_a_retry_records_a_failed_attempt_s_cause_not_the_wrapper() -> None:
    cause = retryable()
    plan = retry_for(FailedAttempt(cause, 2), 0, high)
    assert (plan.why, plan.countdown, plan.exc) == ("retryable", 2, cause)


def test_jitter_is_random_by_default_and_inside_its_bounds() -> None:
    waits = {countdown_for(retryable(), 5) for _ in range(50)}
    assert len(waits) > 1 and all(0.5 <= w <= 32 for w in waits)


# --- the base: classification as a task does it ----------------------------------------------

class Asked(Exception):
    """What the fake `retry` raises instead of publishing: the countdown and exc asked for."""

    def __init__(self, countdown: float, exc: BaseException) -> None:
        super().__init__(countdown)
        self.countdown, self.exc = countdown, exc


class RecordedTask(base.BridgeTask):
    jitter = staticmethod(high)

    def retry(self, countdown: float = 0, exc: BaseException | None = None, **_: object):
        raise Asked(countdown, exc)


app = Celery("test-task-base", set_as_current=False)


def task_raising(error: BaseException, periodic: bool = False):  # noqa: ANN201
    @app.task(base=RecordedTask, bind=True, name=f"bridge.t{uuid.uuid4().hex}", shared=False,
              periodic=periodic)
    def task(self: base.BridgeTask) -> str:
        raise error
    return task


@pytest.fixture
def retries_counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    counted: list[tuple[str, str]] = []
    monkeypatch.setattr(base.deps, "count_retry", lambda task, why: counted.append((task, why)))
    return counted


def test_a_task_asks_celery_for_the_policy_s_retry_and_counts_it(retries_counted) -> None:
    task = task_raising(RateLimited("klaviyo", 5.0))
    with pytest.raises(Asked) as asked:
        task.apply(retries=3, throw=True)
    assert asked.value.countdown == 6.0
    assert retries_counted == [(task.name, "rate_limited")]


def test_a_task_backs_off_by_its_celery_retries_for_a_plain_retryable(retries_counted) -> None:
    with pytest.raises(Asked) as asked:
        task_raising(retryable()).apply(retries=4, throw=True)
    assert asked.value.countdown == 16


def test_a_failed_attempt_that_cannot_be_retried_fails_the_task_with_its_cause(
        retries_counted) -> None:
    cause = Permanent("zendesk", "422 Unprocessable")
    with pytest.raises(Permanent) as raised:
        task_raising(FailedAttempt(cause, 1)).apply(throw=True)
    assert raised.value is cause and retries_counted == []


def test_any_other_error_fails_the_task_as_raised(retries_counted) -> None:
    with pytest.raises(ValueError, match="bug"):
        task_raising(ValueError("bug")).apply(throw=True)
    assert retries_counted == []


def test_beat_s_tasks_are_not_retried_the_schedule_runs_them_again(retries_counted) -> None:
    with pytest.raises(Retryable):
        task_raising(retryable(), periodic=True).apply(throw=True)
    assert retries_counted == []


def test_a_retry_whose_publish_failed_is_published_again_once_redis_answers(
        monkeypatch: pytest.MonkeyPatch, retries_counted) -> None:
    from celery.exceptions import Reject

    tries = []

    class Flaky(RecordedTask):
        def retry(self, countdown: float = 0, exc: BaseException | None = None, **_: object):
            tries.append(countdown)
            if len(tries) == 1:
                raise Reject(redis.ConnectionError("refused"), requeue=False)
            raise Asked(countdown, exc)

    def busy(self: base.BridgeTask) -> str:
        raise QueueBusy("queue busy")

    monkeypatch.setattr(base.deps, "ping", lambda: True)
    task = app.task(base=Flaky, bind=True, name="bridge.flaky", shared=False)(busy)
    with pytest.raises(Asked):
        task.apply(throw=True)
    assert tries == [1.0, 1.0] and retries_counted == [("bridge.flaky", "queue_busy")]


# --- log context -----------------------------------------------------------------------------

def test_a_task_s_log_lines_name_the_task_and_its_event() -> None:
    record = logging.LogRecord("zkbridge", logging.INFO, __file__, 1, "outcome", None, None)
    record.fields = {"decision": "applied"}
    log_context.bind("bridge.inbound_sms", ["klaviyo:01J0ABC"])
    try:
        log_context.ContextFilter().filter(record)
    finally:
        log_context.unbind()
    line = json.loads(JsonFormatter().format(record))
    assert (line["task"], line["ref"], line["decision"]) == (
        "bridge.inbound_sms", "klaviyo:01J0ABC", "applied")


def test_only_an_event_ref_is_bound_as_the_ref_and_nothing_outlives_the_task() -> None:
    log_context.bind("bridge.ticket_metric", [4321, "Opened Ticket", "2026-01-01"])
    assert log_context.bound() == {"task": "bridge.ticket_metric"}
    log_context.unbind()
    assert log_context.bound() == {}
    record = logging.LogRecord("zkbridge", logging.INFO, __file__, 1, "x", None, None)
    log_context.ContextFilter().filter(record)
    assert not hasattr(record, "fields")


def test_celery_s_task_signals_bind_and_clear_the_context() -> None:
    from celery.signals import task_postrun, task_prerun

    seen = []

    def remember(self: base.BridgeTask, ref: str) -> None:
        seen.append(log_context.bound())

    log_context.install(logging.getLogger("zkbridge.test"))
    task = app.task(bind=True, name="bridge.seen", shared=False)(remember)
    task_prerun.send(sender=task, task_id="1", task=task, args=["zendesk:77"], kwargs={})
    task.run("zendesk:77")
    task_postrun.send(sender=task, task_id="1", task=task, args=["zendesk:77"], kwargs={})
    assert seen == [{"task": "bridge.seen", "ref": "zendesk:77"}]
    assert log_context.bound() == {}
