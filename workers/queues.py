"""Where every task runs and what puts event refs on the queues: queue names, task routes, the
beat schedule and the event kind -> task table, in one place.

Imported by the receiver, the ops page and the CLI as well as the workers, so importing it has
no side effect: it builds no Celery app and opens no connection (a test checks this).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kombu.exceptions import InconsistencyError, OperationalError

from bridge.domain.model import RawEvent

if TYPE_CHECKING:
    from celery import Celery

# Priority lanes (E6): customers' texts and agents' replies never wait behind campaign notes,
# ticket metrics, sweeps or backfills. Each lane is its own Celery queue; the worker consumes
# them all (and the queues of earlier versions, whose messages still run once).
INTERACTIVE_QUEUE = "zkb.interactive"   # customer texts, agent replies
BACKGROUND_QUEUE = "zkb.background"     # campaign notes, ticket metrics
MAINTENANCE_QUEUE = "zkb.maintenance"   # sweep, catch-up sweep, metrics flush
LANES = (INTERACTIVE_QUEUE, BACKGROUND_QUEUE, MAINTENANCE_QUEUE)
KLAVIYO_QUEUE = "zkb.klaviyo"           # before the lanes: consumed, never published to
ZENDESK_QUEUE = "zkb.zendesk"           # before the lanes: consumed, never published to
LEGACY_QUEUES = (KLAVIYO_QUEUE, ZENDESK_QUEUE)
QUEUES = (*LANES, *LEGACY_QUEUES)
DEFAULT_QUEUE = INTERACTIVE_QUEUE

QUEUE_OF_TASK = {
    "bridge.inbound_sms": INTERACTIVE_QUEUE,
    "bridge.received_sms": BACKGROUND_QUEUE,
    "bridge.zendesk_event": INTERACTIVE_QUEUE,   # by kind below: only comments are interactive
    "bridge.ticket_metric": BACKGROUND_QUEUE,
    "bridge.sweep": MAINTENANCE_QUEUE,
    "bridge.reconcile": MAINTENANCE_QUEUE,
    "bridge.flush_metrics": MAINTENANCE_QUEUE,
    "bridge.release_due": MAINTENANCE_QUEUE,
    "bridge.bulk_writes": MAINTENANCE_QUEUE,     # E6: its calls spend the interactive budget
}
# Event kinds whose task runs in another lane than the task's own (the receiver, the sweep and
# replay pass the kind; without it a task goes to its own lane, never a slower one).
QUEUE_OF_KIND = {
    "zen:event-type:ticket.created": BACKGROUND_QUEUE,          # Opened Ticket (M1)
    "zen:event-type:ticket.status_changed": BACKGROUND_QUEUE,   # status cache, Resolved (M2)
}
# Queues sit on the anonymous exchange, so each route's routing key is its queue's name.
TASK_ROUTES = {task: {"queue": q, "routing_key": q} for task, q in QUEUE_OF_TASK.items()}

TASK_BY_KIND = {
    "event:klaviyo.sent_sms": "bridge.inbound_sms",
    "event:klaviyo.sent_whatsapp_message": "bridge.inbound_sms",   # S9 [assumed] topic
    "event:klaviyo.received_sms": "bridge.received_sms",
}
ZENDESK_TASK = "bridge.zendesk_event"


def beat_schedule(reconcile_every: int) -> dict[str, dict[str, Any]]:
    """What beat publishes, how often; an unconsumed run expires before the next one."""
    from workers.beat import WhenDue, WhenParked, WhenStaged  # noqa: PLC0415 - no worker module

    return {
        "sweep": {"task": "bridge.sweep", "schedule": 30.0, "options": {"expires": 25}},
        # Checked every 5 s, due only while metric events are parked (workers/beat.py).
        "flush-metrics": {"task": "bridge.flush_metrics", "schedule": WhenParked(5.0),
                          "options": {"expires": 4}},
        # Checked every second, due only when a parked job's wait ends (workers/beat.py).
        "release-due": {"task": "bridge.release_due", "schedule": WhenDue(1.0),
                        "options": {"expires": 1}},
        # E6: every second while texts wait to be packed, every 2 s while only jobs are in
        # flight (workers/beat.py `WhenStaged`).
        "bulk-writes": {"task": "bridge.bulk_writes", "schedule": WhenStaged(2.0),
                        "options": {"expires": 2}},
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


def queue_for(task: str, kind: str | None = None) -> str:
    """The lane a task runs in: by the event's kind when the table names it, else the task's."""
    return QUEUE_OF_KIND.get(kind or "") or QUEUE_OF_TASK.get(task, DEFAULT_QUEUE)


def enqueue(app: Celery, task: str, ref: str, kind: str | None = None) -> None:
    """Publish one task carrying only the event ref (no PII in Flower, E5), in its lane. The
    `zkb_sent_at` header lets /ops tell how long a lane's oldest message has waited.

    Raises OperationalError when Redis is unreachable (the receiver answers 503).
    """
    queue = queue_for(task, kind)
    options = {"queue": queue, "routing_key": queue, "headers": {"zkb_sent_at": time.time()}}
    try:
        app.send_task(task, args=[ref], **options)
    except InconsistencyError:
        # Redis came back empty: publish again on a fresh connection.
        app.pool.force_close_all()
        app.send_task(task, args=[ref], **options)


__all__ = ["BACKGROUND_QUEUE", "INTERACTIVE_QUEUE", "KLAVIYO_QUEUE", "LANES", "MAINTENANCE_QUEUE",
           "QUEUES", "TASK_ROUTES", "ZENDESK_QUEUE", "OperationalError", "beat_schedule",
           "enqueue", "queue_for", "task_for", "task_for_kind"]
