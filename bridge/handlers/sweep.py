"""Periodic safety net (celery beat): re-queue what a crash could have stranded (E1).

- events stored by the receiver whose enqueue was never confirmed (receiver died in between);
- ordered queues (a conversation's texts, a ticket's replies) whose head waits with no worker
  holding the queue (every worker that could drain it died, and their messages were already
  acknowledged or expired). The head's own task is re-queued: the task is chosen by the
  event's source and kind, exactly as the receiver chose it.
Both re-queues are safe because every task is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge.ports import StorePort

STRANDED_AFTER = 30.0


def sweep(store: StorePort, enqueue: Callable[[str, str], None], now: float,
          task_for_kind: Callable[[str, str], str | None]) -> dict[str, int]:
    requeued_events = 0
    for ref, kind in store.events.unqueued_before(now - STRANDED_AFTER):
        task = task_for_kind(ref.split(":", 1)[0], kind)
        if task is None:      # a topic the bridge does not use, left by a receiver that died
            store.events.drop_unused(ref)
            continue
        enqueue(task, ref)
        store.events.mark_queued([ref])
        requeued_events += 1
    requeued_queues = 0
    for queue, member, received_at, kind in store.queues.waiting_heads():
        if received_at < now - STRANDED_AFTER and not store.queues.queue_locked(queue):
            ref = member.split("|", 1)[1]
            task = task_for_kind(ref.split(":", 1)[0], kind)
            if task:
                enqueue(task, ref)
                requeued_queues += 1
    return {"events": requeued_events, "queues": requeued_queues}
