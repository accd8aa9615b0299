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
from urllib.parse import quote

from celery import Celery
from kombu import Exchange, Queue

from bridge.adapters.redis_client import url_credentials
from bridge.config import Settings
from workers.queues import DEFAULT_QUEUE, QUEUES, TASK_ROUTES, beat_schedule

TASK_TIME_LIMIT = 300

DELIVERY = {
    "task_serializer": "json", "accept_content": ["json"], "result_serializer": "json",
    "task_ignore_result": True, "result_backend": None,
    "task_acks_late": True, "task_reject_on_worker_lost": True, "worker_prefetch_multiplier": 1,
    "task_time_limit": TASK_TIME_LIMIT, "task_soft_time_limit": TASK_TIME_LIMIT - 30,
    **{
        # Ride through a Redis restart or failover instead of exiting (issue 14): retry the
        # connection forever, at start-up too (no supervisor needed), and treat the channel
        # errors of a failover (READONLY from a demoted primary, UNBLOCKED of a BRPOP) like a
        # lost connection.
        "broker_connection_retry": True, "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None, "broker_channel_error_retry": True,
        # A task running when the connection drops finishes (its ack is lost, so it comes back
        # after the visibility timeout and finds its work done): cancelling it would cut an
        # upstream call in half, the one window where a reply's outcome is unknown (A6).
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        # Celery 5.7 exits when closing a lost connection fails half-way under load: see there.
        "worker_consumer": "workers.consumer:ResilientConsumer",
    },
    # Flower sees received/started/succeeded from the workers; a task-sent event per publish
    # would double the receiver's Redis writes.
    "worker_send_task_events": True, "task_send_sent_event": False,
    "worker_hijack_root_logger": False, "worker_redirect_stdouts": False,
}


def make_celery(settings: Settings) -> Celery:
    app = Celery("zkbridge", broker=broker_url(settings), include=["workers.tasks"])
    app.conf.update(
        **DELIVERY, **routing(),
        broker_transport_options=transport_options(settings.visibility_timeout,
                                                   **sentinel_options(settings)),
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


def transport_options(visibility_timeout: int, **extra: Any) -> dict[str, Any]:
    return {"visibility_timeout": visibility_timeout,
            # Look for unacked messages of dead workers every ~10 s instead of ~100 s.
            "unacked_restore_interval": 10, "unacked_restore_throttle": 1,
            # A Redis that vanished without closing the socket (host down, failover): a publish
            # gives up after 10 s instead of waiting forever (above BRPOP's 1 s), keepalive and
            # a 10 s health check find dead pooled and consumer connections (kombu drops a BRPOP
            # overdue by 1 + 10 s and reconnects).
            "socket_timeout": 10, "socket_connect_timeout": 5, "socket_keepalive": True,
            "health_check_interval": 10, **extra}


def broker_url(settings: Settings) -> str:
    """REDIS_URL, or under Sentinel one `sentinel://` URL per sentinel (kombu asks them for
    the primary, with REDIS_URL's password and database)."""
    if not settings.redis_sentinels:
        return settings.redis_url
    creds = url_credentials(settings.redis_url)
    auth = ""
    if "password" in creds:
        auth = f"{quote(creds.get('username', ''))}:{quote(creds['password'], safe='')}@"
    return ";".join(f"sentinel://{auth}{s}/{creds['db']}" for s in settings.redis_sentinels)


def sentinel_options(settings: Settings) -> dict[str, Any]:
    if not settings.redis_sentinels:
        return {}
    extra: dict[str, Any] = {"socket_timeout": 2, "socket_connect_timeout": 2}
    if settings.redis_sentinel_password:
        extra["password"] = settings.redis_sentinel_password
    return {"master_name": settings.redis_master_name, "sentinel_kwargs": extra}


def __getattr__(name: str) -> Any:
    """`celery -A workers.celery_app` (deployments started before workers/worker.py existed)
    still finds the worker's app."""
    if name in ("app", "celery"):
        from workers import worker  # noqa: PLC0415 - builds Settings: only when asked for

        return worker.app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
