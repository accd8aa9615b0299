"""Ordered queues (S7, A6): a conversation's texts and a ticket's replies wait in a Redis sorted
set by send time, and one worker at a time drains a queue under its lock. The receiver fills
them (event_log.py's save script); handlers.runner drains them; the sweep finds abandoned ones.
"""

from __future__ import annotations

from typing import Any

import redis

from bridge.adapters import redis_keys as keys


class OrderedQueues:
    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def head(self, queue: str) -> str | None:
        """The member ("<seq>|<ref>") whose turn it is in an ordered queue."""
        items = self._r.zrange(keys.ordered_queue(queue), 0, 0)
        return items[0].decode() if items else None

    def remove_pending(self, queue: str, member: str) -> None:
        self._r.zrem(keys.ordered_queue(queue), member)

    def waiting_heads(self) -> list[tuple[str, str, float, str]]:
        """(queue, head member, received_at, head kind) of every queue with waiting events."""
        out = []
        prefix = keys.ordered_queue("")
        for key in self._r.scan_iter(match=prefix + "*", count=500):
            queue = key.decode()[len(prefix):]
            head = self.head(queue)
            if head is None:
                continue
            received, kind = self._r.hmget(keys.event(head.split("|", 1)[1]), "received_at",
                                           "kind")
            out.append((queue, head, float(received or 0), (kind or b"").decode()))
        return out

    def queue_locked(self, queue: str) -> bool:
        return bool(self._r.exists(keys.queue_lock(queue)))

    def queue_lock(self, queue: str, timeout: float = 120) -> Any:
        """A non-blocking lock (`acquire()`, `extend()`, `release()`), held by one worker."""
        return self._r.lock(keys.queue_lock(queue), timeout=timeout, blocking=False)
