"""Celery tasks: thin wrappers that run a handler from `bridge/` and own the retry policy (E2).

Tasks take one JSON string (an event ref such as "klaviyo:01J..."), never personal data.
Handlers are built once per worker process by `bridge.bootstrap`.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from functools import cache

import redis
from celery import Task
from celery.exceptions import Reject

from bridge import bootstrap
from bridge.adapters.logs import setup_logging
from bridge.adapters.meters import count_retry
from bridge.config import Settings
from bridge.errors import Deferred, FailedAttempt, QueueBusy, RateLimited, Retryable
from bridge.handlers import metric_burst as metrics_bulk
from bridge.handlers.campaign_note import runner as campaign_runner
from bridge.handlers.reconcile import ReconcileDeps, export_budget
from bridge.handlers.reconcile import reconcile as run_reconcile
from bridge.handlers.runner import Done
from bridge.handlers.sms_inbound import handle_inbound
from bridge.handlers.sweep import sweep as run_sweep
from bridge.handlers.ticket_event import handle_ticket_event
from bridge.handlers.ticket_metric import record_metric
from workers.celery_app import MAX_COUNTDOWN, app
from workers.queues import enqueue, task_for_kind

MAX_TASK_RETRIES = 200   # a backstop; handlers bound each event's own attempts (MAX_ATTEMPTS)
REDIS_OUTAGE_WAIT = 60.0  # how long a task waits for Redis to come back before giving up


@cache
def _settings() -> Settings:
    setup_logging(os.environ.get("LOG_LEVEL", "INFO"))
    return Settings.from_env()


@cache
def _store():  # noqa: ANN202 - one Redis pool per worker process
    return bootstrap.store(_settings())


def _backoff(retries: int) -> float:
    """Exponential with full jitter, capped below the visibility timeout."""
    return random.uniform(0.5, min(MAX_COUNTDOWN, 2 ** min(retries, 10)))


def _run(task: Task, fn: Callable[[], str]) -> str:
    try:
        return _through_redis_outage(fn)
    except QueueBusy as e:
        # The holder applies our event; we only check back in case it dies, less and less often.
        countdown = min(30.0, 2.0 ** min(task.request.retries, 5)) * random.uniform(0.5, 1.0)
        raise _retry(task, "queue_busy", countdown, e) from e
    except Deferred as e:
        raise _retry(task, "deferred", e.retry_after + random.uniform(0, 0.2), e) from e
    except RateLimited as e:
        why = "budget" if getattr(e, "local", False) else "rate_limited"
        raise _retry(task, why, e.retry_after + random.uniform(0, 1), e) from e
    except FailedAttempt as e:
        # The event's own failed attempts (handlers.runner) set the backoff; budget waits and
        # busy queues do not lengthen it. Only a retryable cause is retried here; any other
        # error fails the task, and the sweep re-queues the event's queue (as before).
        if not isinstance(e.cause, Retryable):
            raise e.cause from e
        raise _retry(task, "retryable", _backoff(e.attempts - 1), e.cause) from e.cause
    except Retryable as e:
        raise _retry(task, "retryable", _backoff(task.request.retries), e) from e


def _through_redis_outage(fn: Callable[[], str]) -> str:
    """Run a handler; if Redis goes away under it (a restart, a failover: the first command on
    each pooled connection it closed fails too), wait for Redis and run it again (handlers are
    idempotent). Failing instead would lose the event: Celery acknowledges a failed task, and
    an event outside an ordered queue has no sweep to publish it again (E1)."""
    deadline = time.monotonic() + REDIS_OUTAGE_WAIT
    for _ in range(3):
        try:
            return fn()
        except (redis.ConnectionError, redis.TimeoutError):
            if not _redis_answers_by(deadline):
                raise
        except FailedAttempt as e:
            if not isinstance(e.cause, redis.ConnectionError | redis.TimeoutError):
                raise
            if not _redis_answers_by(deadline):
                raise
    return fn()


def _redis_answers_by(deadline: float) -> bool:
    while True:
        try:
            return bool(_store().r.ping())
        except redis.RedisError:    # refused, closed, or LOADING (BusyLoadingError)
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.5)


def _retry(task: Task, why: str, countdown: float, exc: Exception) -> Exception:
    """Count the retry by task and cause (for /metrics), then ask Celery for it."""
    count_retry(_store().r, task.name, why)
    try:
        return task.retry(countdown=min(MAX_COUNTDOWN, countdown), exc=exc,
                          max_retries=MAX_TASK_RETRIES)
    except Reject:
        # Publishing the retry failed (Redis unreachable) and Celery would drop the message:
        # once Redis answers again, publish it again.
        if not _redis_answers_by(time.monotonic() + REDIS_OUTAGE_WAIT):
            raise
        return task.retry(countdown=min(MAX_COUNTDOWN, countdown), exc=exc,
                          max_retries=MAX_TASK_RETRIES)


@app.task(name="bridge.inbound_sms", bind=True, acks_late=True)
def inbound_sms(self: Task, ref: str) -> str:
    """A customer's text (Klaviyo sent_sms) -> Zendesk ticket or comment."""
    deps = _inbound_deps()
    return _run(self, lambda: handle_inbound(ref, deps))


@app.task(name="bridge.zendesk_event", bind=True, acks_late=True)
def zendesk_event(self: Task, ref: str) -> str:
    """A Zendesk ticket event (created / comment added / status changed)."""
    deps = _ticket_event_deps()
    return _run(self, lambda: handle_ticket_event(ref, deps))


@app.task(name="bridge.received_sms", bind=True, acks_late=True)
def received_sms(self: Task, ref: str) -> str:
    """An SMS reached a customer (Klaviyo received_sms): campaign/flow → note on the ticket."""
    deps = _campaign_deps()
    return _run(self, lambda: campaign_runner(deps).run_event(ref))


@app.task(name="bridge.ticket_metric", bind=True, acks_late=True)
def ticket_metric(self: Task, ticket_id: int, metric: str, when: str) -> str:
    """Record one Opened/Resolved Ticket the catch-up sweep found missing (M4)."""
    deps = _ticket_event_deps().metrics
    return _run(self, lambda: _outcome(record_metric(ticket_id, metric, when, deps)))


@app.task(name="bridge.reconcile", acks_late=True)
def reconcile() -> dict[str, int]:
    """Page Zendesk's incremental export for creations/closures webhooks missed (beat)."""
    def ask(ticket_id: int, metric: str, when: str) -> None:
        app.send_task("bridge.ticket_metric", args=[ticket_id, metric, when])

    deps = ReconcileDeps(store=_store(), zendesk=_ticket_event_deps().metrics.zendesk,
                         quota=_ticket_event_deps().metrics.quota, enqueue_metric=ask,
                         budget=export_budget(_settings().zendesk_exports_per_minute))
    return run_reconcile(deps, time.time())


def _outcome(done: Done) -> str:
    if done.outcome == "applied":
        _store().count("ticket_metric", "processed", "sweep")
    else:
        _store().count("ticket_metric", "dropped", done.reason)
    return f"{done.outcome}:{done.reason}"


@app.task(name="bridge.flush_metrics", acks_late=True)
def flush_metrics() -> int:
    """Send metric events parked during a burst through the bulk endpoint (beat, every 5 s)."""
    deps = _ticket_event_deps().metrics
    return metrics_bulk.flush(deps.store, deps.klaviyo, deps.quota)


@app.task(name="bridge.sweep", acks_late=True)
def sweep() -> dict[str, int]:
    """Re-queue stranded events and conversations (beat, every 30 s)."""
    return run_sweep(_store(), lambda task, ref: enqueue(app, task, ref), time.time(),
                     task_for_kind)


@cache
def _inbound_deps():  # noqa: ANN202
    return bootstrap.inbound_deps(_settings(), _store())


@cache
def _ticket_event_deps():  # noqa: ANN202
    return bootstrap.ticket_event_deps(_settings(), _store())


@cache
def _campaign_deps():  # noqa: ANN202
    return bootstrap.campaign_deps(_settings(), _store())
