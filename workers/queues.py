"""Where every task runs and what puts event refs on the queues: queue names, task routes, the
beat schedule and the event kind -> task table, in one place.

Imported by the receiver, the ops page and the CLI as well as the workers, so importing it has
no side effect: it builds no Celery app and opens no connection (a test checks this).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kombu.exceptions import InconsistencyError, OperationalError

from bridge.domain.model import RawEvent

if TYPE_CHECKING:
    from celery import Celery

KLAVIYO_QUEUE = "zkb.klaviyo"
ZENDESK_QUEUE = "zkb.zendesk"
MAINTENANCE_QUEUE = "zkb.maintenance"
QUEUES = (KLAVIYO_QUEUE, ZENDESK_QUEUE, MAINTENANCE_QUEUE)
DEFAULT_QUEUE = KLAVIYO_QUEUE

QUEUE_OF_TASK = {
    "bridge.inbound_sms": KLAVIYO_QUEUE,
    "bridge.received_sms": KLAVIYO_QUEUE,
    "bridge.zendesk_event": ZENDESK_QUEUE,
    "bridge.ticket_metric": ZENDESK_QUEUE,
    "bridge.sweep": MAINTENANCE_QUEUE,
    "bridge.reconcile": MAINTENANCE_QUEUE,
    "bridge.flush_metrics": MAINTENANCE_QUEUE,
    "bridge.release_due": MAINTENANCE_QUEUE,
}
# Queues sit on the anonymous exchange, so each route's routing key is its queue's name.
TASK_ROUTES = {task: {"queue": q, "routing_key": q} for task, q in QUEUE_OF_TASK.items()}

TASK_BY_KIND = {
    "event:klaviyo.sent_sms": "bridge.inbound_sms",
    "event:klaviyo.received_sms": "bridge.received_sms",
}
ZENDESK_TASK = "bridge.zendesk_event"


def beat_schedule(reconcile_every: int) -> dict[str, dict[str, Any]]:
    """What beat publishes, how often; an unconsumed run expires before the next one."""
    from workers.beat import WhenDue, WhenParked  # noqa: PLC0415 - loads no worker module

    return {
        "sweep": {"task": "bridge.sweep", "schedule": 30.0, "options": {"expires": 25}},
        # Checked every 5 s, due only while metric events are parked (workers/beat.py).
        "flush-metrics": {"task": "bridge.flush_metrics", "schedule": WhenParked(5.0),
                          "options": {"expires": 4}},
        # Checked every second, due only when a parked job's wait ends (workers/beat.py).
        "release-due": {"task": "bridge.release_due", "schedule": WhenDue(1.0),
                        "options": {"expires": 1}},
        "reconcile": {"task": "bridge.reconcile", "schedule": float(reconcile_every),
                      "options": {"expires": max(10, reconcile_every - 5)}},
    }


def task_for(event: RawEvent) -> str | None:
    """The task that handles this event, or None for kinds the bridge does not use."""
    if event.source == "zendesk":
        return ZENDESK_TASK
    return TASK_BY_KIND.get(event.kind)


def task_for_kind(source: str, kind: str) -> str | None:
    """The same choice from a stored event's source and kind (sweep, replay)."""
    return ZENDESK_TASK if source == "zendesk" else TASK_BY_KIND.get(kind)


def enqueue(app: Celery, task: str, ref: str) -> None:
    """Publish one task carrying only the event ref (no PII in Flower, E5).

    Raises OperationalError when Redis is unreachable (the receiver answers 503).
    """
    try:
        app.send_task(task, args=[ref])
    except InconsistencyError:
        # Redis came back empty: publish again on a fresh connection.
        app.pool.force_close_all()
        app.send_task(task, args=[ref])


__all__ = ["KLAVIYO_QUEUE", "MAINTENANCE_QUEUE", "QUEUES", "TASK_ROUTES", "ZENDESK_QUEUE",
           "OperationalError", "beat_schedule", "enqueue", "task_for", "task_for_kind"]
