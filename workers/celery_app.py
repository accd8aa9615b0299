"""The Celery app factory: Redis broker, JSON only, at-least-once delivery settings
(CELERY-NOTES.md). Every process builds its app from its own `Settings`: the worker and beat in
workers/worker.py, the receiver in webapp/app.py, the CLI to publish replays.

- acks_late + reject_on_worker_lost: a task whose worker is SIGKILLed runs again (tasks are
  idempotent, so this is safe).
- prefetch 1: a worker holds one message at a time, so a crash strands at most one.
- visibility timeout above the longest countdown + runtime, otherwise held retries run twice.
- queues sit on the anonymous exchange: publishing needs no `_kombu.binding.*` lookup, so a
  Redis that comes back empty (restart without persistence, FLUSHDB) cannot make a publish
  vanish silently.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from bridge.config import Settings
from workers.queues import DEFAULT_QUEUE, QUEUES, TASK_ROUTES, beat_schedule

TASK_TIME_LIMIT = 300

DELIVERY = {
    "task_serializer": "json", "accept_content": ["json"], "result_serializer": "json",
    "task_ignore_result": True, "result_backend": None,
    "task_acks_late": True, "task_reject_on_worker_lost": True, "worker_prefetch_multiplier": 1,
    "task_time_limit": TASK_TIME_LIMIT, "task_soft_time_limit": TASK_TIME_LIMIT - 30,
    "broker_connection_retry_on_startup": True,
    # Flower sees received/started/succeeded from the workers; a task-sent event per publish
    # would double the receiver's Redis writes.
    "worker_send_task_events": True, "task_send_sent_event": False,
    "worker_hijack_root_logger": False, "worker_redirect_stdouts": False,
}


def make_celery(settings: Settings) -> Celery:
    app = Celery("zkbridge", broker=settings.redis_url, include=["workers.tasks"])
    app.conf.update(
        **DELIVERY, **routing(),
        broker_transport_options=transport_options(settings.visibility_timeout),
        beat_schedule=beat_schedule(settings.reconcile_interval_seconds),
        beat_scheduler="workers.beat:OneBeat",   # one beat publishes at a time (a Redis lease)
    )
    return app


def routing() -> dict[str, Any]:
    """The queues on the anonymous exchange, and which task goes to which (queues.py)."""
    default = Exchange("", type="direct")
    return {"task_queues": [Queue(q, default, routing_key=q) for q in QUEUES],
            "task_default_queue": DEFAULT_QUEUE, "task_default_exchange": "",
            "task_default_routing_key": DEFAULT_QUEUE, "task_routes": TASK_ROUTES}


def transport_options(visibility_timeout: int) -> dict[str, Any]:
    return {"visibility_timeout": visibility_timeout,
            # Look for unacked messages of dead workers every ~10 s instead of ~100 s.
            "unacked_restore_interval": 10, "unacked_restore_throttle": 1}


def __getattr__(name: str) -> Any:
    """`celery -A workers.celery_app` (deployments started before workers/worker.py existed)
    still finds the worker's app."""
    if name in ("app", "celery"):
        from workers import worker  # noqa: PLC0415 - builds Settings: only when asked for

        return worker.app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
