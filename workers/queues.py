"""Putting event refs on the queues. Used by the receiver and by the sweeper.

The task for an event is chosen by its kind here, in one table, so the receiver stays thin.
"""

from __future__ import annotations

from celery import Celery
from kombu.exceptions import InconsistencyError, OperationalError

from bridge.domain.model import RawEvent

TASK_BY_KIND = {
    "event:klaviyo.sent_sms": "bridge.inbound_sms",
    "event:klaviyo.received_sms": "bridge.received_sms",
}
ZENDESK_TASK = "bridge.zendesk_event"


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


__all__ = ["OperationalError", "enqueue", "task_for", "task_for_kind"]
