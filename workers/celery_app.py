"""The Celery app: Redis broker, JSON only, at-least-once delivery settings (CELERY-NOTES.md).

- acks_late + reject_on_worker_lost: a task whose worker is SIGKILLed runs again (tasks are
  idempotent, so this is safe).
- prefetch 1: a worker holds one message at a time, so a crash strands at most one.
- visibility timeout above the longest countdown + runtime, otherwise held retries run twice.
- queues sit on the anonymous exchange: publishing needs no `_kombu.binding.*` lookup, so a
  Redis that comes back empty (restart without persistence, FLUSHDB) cannot make a publish
  vanish silently.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger
from kombu import Exchange, Queue

from bridge.adapters.logs import guard_handlers, secret_values
from bridge.config import Settings

KLAVIYO_QUEUE = "zkb.klaviyo"
ZENDESK_QUEUE = "zkb.zendesk"
MAINTENANCE_QUEUE = "zkb.maintenance"
TASK_TIME_LIMIT = 300
MAX_COUNTDOWN = 120


def make_celery(settings: Settings | None = None) -> Celery:
    broker = settings.redis_url if settings else os.environ.get("REDIS_URL",
                                                                 "redis://127.0.0.1:6379/0")
    visibility = settings.visibility_timeout if settings else int(
        os.environ.get("CELERY_VISIBILITY_TIMEOUT") or 600)
    reconcile_every = settings.reconcile_interval_seconds if settings else int(
        os.environ.get("RECONCILE_INTERVAL_SECONDS") or 300)
    app = Celery("zkbridge", broker=broker, include=["workers.tasks"])
    default = Exchange("", type="direct")
    app.conf.update(
        task_serializer="json", accept_content=["json"], result_serializer="json",
        task_ignore_result=True, result_backend=None,
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_time_limit=TASK_TIME_LIMIT, task_soft_time_limit=TASK_TIME_LIMIT - 30,
        task_queues=[Queue(q, default, routing_key=q)
                     for q in (KLAVIYO_QUEUE, ZENDESK_QUEUE, MAINTENANCE_QUEUE)],
        task_default_queue=KLAVIYO_QUEUE, task_default_exchange="",
        task_default_routing_key=KLAVIYO_QUEUE,
        task_routes={
            "bridge.inbound_sms": {"queue": KLAVIYO_QUEUE, "routing_key": KLAVIYO_QUEUE},
            "bridge.received_sms": {"queue": KLAVIYO_QUEUE, "routing_key": KLAVIYO_QUEUE},
            "bridge.zendesk_event": {"queue": ZENDESK_QUEUE, "routing_key": ZENDESK_QUEUE},
            "bridge.ticket_metric": {"queue": ZENDESK_QUEUE, "routing_key": ZENDESK_QUEUE},
            "bridge.sweep": {"queue": MAINTENANCE_QUEUE, "routing_key": MAINTENANCE_QUEUE},
            "bridge.reconcile": {"queue": MAINTENANCE_QUEUE, "routing_key": MAINTENANCE_QUEUE},
            "bridge.flush_metrics": {"queue": MAINTENANCE_QUEUE,
                                     "routing_key": MAINTENANCE_QUEUE},
        },
        broker_transport_options={
            "visibility_timeout": visibility,
            # Look for unacked messages of dead workers every ~10 s instead of ~100 s.
            "unacked_restore_interval": 10, "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        # Flower sees received/started/succeeded from the workers; a task-sent event per publish
        # would double the receiver's Redis writes.
        worker_send_task_events=True, task_send_sent_event=False,
        worker_hijack_root_logger=False, worker_redirect_stdouts=False,
        beat_schedule={
            "sweep": {"task": "bridge.sweep", "schedule": 30.0,
                      "options": {"expires": 25}},
            "flush-metrics": {"task": "bridge.flush_metrics", "schedule": 5.0,
                              "options": {"expires": 4}},
            "reconcile": {"task": "bridge.reconcile", "schedule": float(reconcile_every),
                          "options": {"expires": max(10, reconcile_every - 5)}},
        },
    )
    return app


@after_setup_logger.connect
@after_setup_task_logger.connect
def _guard_celery_logs(logger, **_: object) -> None:  # noqa: ANN001 - Celery's signal signature
    """Celery's own lines (task retried/failed, with the exception's message, tracebacks) pass
    through the PII and secret guard too (E5); our JSON lines are masked as they are written."""
    guard_handlers(logger, secret_values(os.environ))


app = make_celery()
