"""A read-only look at Celery's Redis broker (kombu's lists and `unacked` hash), for the sweep:
is an event's message still waiting in a queue or held by a worker, or did the broker lose it
(the pop-to-unacked window of kombu's Redis transport when Redis stops, issue 14)?

Celery's message protocol 2 carries the task's arguments in plain text in the `argsrepr` header
(`"['klaviyo:abc']"`), so a message is found by its event ref without decoding its body.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import redis

from bridge.adapters import redis_keys as keys


class BrokerView:
    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def holding(self, refs: Iterable[str], queues: Sequence[str]) -> set[str]:
        """Those of `refs` a message in `queues` or in the unacked hash still carries."""
        wanted = {f"'{ref}'".encode(): ref for ref in refs}
        if not wanted:
            return set()
        pipe = self._r.pipeline(transaction=False)
        for queue in queues:
            pipe.lrange(queue, 0, -1)
        pipe.hvals(keys.UNACKED)
        found: set[str] = set()
        for messages in pipe.execute():
            for raw in messages:
                found |= {ref for needle, ref in wanted.items() if needle in raw}
        return found
