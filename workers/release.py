"""Beat's side of `zkb:due` (#14): publish each parked ref when its wait ends.

Kept out of tasks.py so it is a plain function over the store and a publish callable: the
`bridge.release_due` task wraps it, and a test drives it without Celery.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bridge.domain.brand_scope import source_of
from bridge.ports import StorePort

log = logging.getLogger("zkbridge.release")
RELEASE_AHEAD = 1.5      # refs due this soon are published now, with the rest as a countdown
Publish = Callable[[str, str, float], None]     # (task, ref, countdown seconds)


def release(store: StorePort, publish: Publish, now: float,
            task_for_kind: Callable[[str, str], str | None]) -> int:
    """Take the refs due by now + RELEASE_AHEAD and publish each one's task; a ref that could
    not be published waits again (the next beat tick tries again). Answers how many left."""
    due = store.due.take_due(now + RELEASE_AHEAD)
    if not due:
        return 0
    kinds = store.events.event_fields([ref for ref, _ in due], "kind")
    sent = 0
    for i, ((ref, at), fields) in enumerate(zip(due, kinds, strict=True)):
        task = task_for_kind(source_of(ref), fields.get("kind") or "")
        if task is None:
            continue
        try:
            publish(task, ref, max(0.0, at - now))
        except Exception:  # the broker's errors vary: this ref and the rest wait again
            for left, when in due[i:]:
                store.due.park(left, when)
            log.warning("could not publish due jobs; they wait for the next tick")
            raise
        sent += 1
    return sent
