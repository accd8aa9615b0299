"""`BridgeTask`: the one base of every Celery task, and the only place that retries (E2).

Every task body runs through `BridgeTask.__call__`, which
- runs it again when Redis goes away under it and comes back within REDIS_OUTAGE_WAIT;
- turns a failure into a retry with the countdown of workers/retry_policy.py, counted by task
  and cause for /metrics, or lets the task fail (Celery acknowledges it; the event is in failed
  jobs or, for an ordered queue, swept again).

Beat's tasks (`periodic=True` on the decorator) fail as they always did: the schedule runs them
again within seconds, and a retry on top would run two of them side by side.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, NoReturn

import redis
from celery import Task
from celery.exceptions import Reject
from tenacity import Retrying, retry_if_exception_type, wait_fixed

from bridge.errors import FailedAttempt
from workers import deps
from workers.retry_policy import Retry, park_for, retry_for

MAX_TASK_RETRIES = 200    # a backstop; handlers bound each event's own attempts (MAX_ATTEMPTS)
REDIS_OUTAGE_WAIT = 60.0  # how long a task waits for Redis to come back before giving up
REDIS_POLL = 0.5
REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)


class BridgeTask(Task):
    periodic = False         # beat's tasks: no retry, no outage wait (the schedule is both)
    max_retries = MAX_TASK_RETRIES
    jitter = staticmethod(random.uniform)   # (low, high) -> a float between; tests fix it

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        def body() -> Any:
            return super(BridgeTask, self).__call__(*args, **kwargs)

        if self.periodic:
            return body()
        try:
            return through_redis_outage(body)
        except Exception as error:  # noqa: BLE001 - classified: parked, retried or raised again
            parked = self.park(error, args[0] if args and isinstance(args[0], str) else None)
            if parked is not None:
                return parked
            self.retry_or_raise(error)

    def park(self, error: Exception, own_ref: str | None) -> str | None:
        """A wait past the safe countdown, or the wait of the queue's head: the ref waits in
        `zkb:due` and beat publishes it when due (workers/retry_policy.park_for); this task
        ends. A new wait is counted as a deferred retry, like the countdown it replaces; a
        task that finds its queue's head already waiting only ends (the head's wake-up drains
        the queue, its event included)."""
        scheduled = getattr(error, "scheduled", False)    # a slot it reserved earlier
        plan = park_for(error, own_ref)
        if plan is None and scheduled and own_ref is not None:
            plan = (own_ref, float(getattr(error, "retry_after", 0.0)))
        if plan is None:
            return None
        ref, seconds = plan
        if ref != own_ref and scheduled:
            return f"{ref} waits for its reserved slot"   # its wake-up is already on its way
        if deps.store().due.park(ref, time.time() + seconds):
            deps.count_retry(self.name, "deferred")
        return f"parked {ref} for {seconds:.0f}s"

    def retry_or_raise(self, error: Exception) -> NoReturn:
        """Ask Celery for the retry the policy gives `error`, or raise what the task fails
        with (a FailedAttempt's cause when that cause is not worth retrying)."""
        plan = retry_for(error, self.request.retries, self.jitter)
        if plan is not None:
            self.ask_retry(plan)
        if isinstance(error, FailedAttempt):
            raise error.cause from error
        raise error

    def ask_retry(self, plan: Retry) -> NoReturn:
        """Count the retry by task and cause (for /metrics), then ask Celery for it."""
        deps.count_retry(self.name, plan.why)
        try:
            raise self.retry(countdown=plan.countdown, exc=plan.exc, max_retries=MAX_TASK_RETRIES)
        except Reject:
            # Publishing the retry failed (Redis unreachable) and Celery would drop the message:
            # once Redis answers again, publish it again.
            if not redis_answers_by(time.monotonic() + REDIS_OUTAGE_WAIT):
                raise
            raise self.retry(countdown=plan.countdown, exc=plan.exc,
                             max_retries=MAX_TASK_RETRIES) from None


def through_redis_outage(fn: Callable[[], Any]) -> Any:
    """Run a handler; if Redis goes away under it (a restart, a failover: the first command on
    each pooled connection it closed fails too), wait for Redis and run it again (handlers are
    idempotent). Failing instead would lose the event: Celery acknowledges a failed task, and
    an event outside an ordered queue has no sweep to publish it again (E1)."""
    deadline = time.monotonic() + REDIS_OUTAGE_WAIT
    for _ in range(3):
        try:
            return fn()
        except REDIS_DOWN:
            if not redis_answers_by(deadline):
                raise
        except FailedAttempt as e:
            if not isinstance(e.cause, REDIS_DOWN) or not redis_answers_by(deadline):
                raise
    return fn()


def redis_answers_by(deadline: float) -> bool:
    """Ping Redis every REDIS_POLL seconds until it answers (True) or `deadline` (monotonic)
    passes (False). Refused, closed and LOADING (BusyLoadingError) all count as down."""
    waiting = Retrying(retry=retry_if_exception_type(redis.RedisError),
                       wait=wait_fixed(REDIS_POLL), sleep=time.sleep, reraise=True,
                       stop=lambda _state: time.monotonic() >= deadline)
    try:
        return bool(waiting(deps.ping))
    except redis.RedisError:
        return False
