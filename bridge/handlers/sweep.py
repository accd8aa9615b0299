"""Periodic safety net (celery beat): re-queue what a crash could have stranded (E1).

- events stored by the receiver whose enqueue was never confirmed (receiver died in between);
- ordered queues (a conversation's texts, a ticket's replies) whose head waits with no worker
  holding the queue (every worker that could drain it died, their messages were already
  acknowledged or expired, or the broker lost the message: kombu's Redis transport can drop
  one it had just popped when Redis stops). The head's own task is re-queued: the task is
  chosen by the event's source and kind, exactly as the receiver chose it.
Both re-queues are safe because every task is idempotent. With `in_broker` (which of some refs
a broker message still carries), an event whose message is still queued or held by a worker is
left to it, so each re-queue is a repair and is counted: `sweep:repaired:<what>`, shown as
`zkb_repaired_total{what}` on /metrics and on the ops page.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge.domain.brand_scope import source_of
from bridge.ports import StorePort

STRANDED_AFTER = 30.0
InBroker = Callable[[list[str]], set[str]]


def sweep(store: StorePort, enqueue: Callable[[str, str], None], now: float,
          task_for_kind: Callable[[str, str], str | None],
          in_broker: InBroker = lambda refs: set()) -> dict[str, int]:
    unconfirmed = []
    for ref, kind in store.events.unqueued_before(now - STRANDED_AFTER):
        task = task_for_kind(source_of(ref), kind)
        if task is None:      # a topic the bridge does not use, left by a receiver that died
            store.events.drop_unused(ref)
        else:
            unconfirmed.append((task, ref))
    stranded = []
    for queue, member, received_at, kind in store.queues.waiting_heads():
        if received_at < now - STRANDED_AFTER and not store.queues.queue_locked(queue):
            ref = member.split("|", 1)[1]
            task = task_for_kind(source_of(ref), kind)
            if task:
                stranded.append((task, ref))
    held = in_broker([ref for _, ref in unconfirmed + stranded])
    requeued = {"events": _requeue(store, enqueue, unconfirmed, held, "unconfirmed_enqueue"),
                "queues": _requeue(store, enqueue, stranded, held, "stranded_queue")}
    store.events.mark_queued([ref for _, ref in unconfirmed])
    return requeued


def _requeue(store: StorePort, enqueue: Callable[[str, str], None],
             work: list[tuple[str, str]], held: set[str], what: str) -> int:
    """Publish each (task, ref) no broker message carries any more; count them as repairs."""
    n = 0
    for task, ref in work:
        if ref not in held:
            enqueue(task, ref)
            n += 1
    if n:
        store.outcomes.count("sweep", "repaired", what, n)
    return n
