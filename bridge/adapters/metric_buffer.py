"""The parking list of metric events waiting for Klaviyo's bulk endpoint (handlers.metric_burst).

A batch moves to an in-flight list named by a token before it is sent, and is removed only
after Klaviyo's 202; a flusher that dies leaves the in-flight list behind, and a later flush
puts stale in-flight batches back.
"""

from __future__ import annotations

import uuid

import redis

from bridge.adapters import redis_keys as keys


class MetricBuffer:
    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def park(self, event_json: str, ticket_id: int, metric: str) -> None:
        """Park one event; its done-marker is set now (it will be sent)."""
        pipe = self._r.pipeline()
        pipe.rpush(keys.METRICS_PENDING, event_json)
        pipe.set(keys.metric(ticket_id, metric), "bulk", ex=keys.METRIC_TTL)
        pipe.execute()

    def waiting(self) -> int:
        return int(self._r.llen(keys.METRICS_PENDING))

    def take_batch(self, size: int, now: float) -> tuple[str, list[bytes]]:
        """Move up to `size` parked events to a new in-flight list: (its token, the events)."""
        token = f"{keys.METRICS_INFLIGHT}{int(now)}:{uuid.uuid4().hex}"
        pipe = self._r.pipeline()
        pipe.lrange(keys.METRICS_PENDING, 0, size - 1)
        pipe.ltrim(keys.METRICS_PENDING, size, -1)
        batch = pipe.execute()[0]
        if batch:
            self._r.rpush(token, *batch)
        return token, batch

    def put_back(self, token: str, batch: list[bytes]) -> None:
        """The send failed in a way worth retrying: the batch waits again."""
        self._r.rpush(keys.METRICS_PENDING, *batch)
        self._r.delete(token)

    def done(self, token: str) -> None:
        self._r.delete(token)

    def requeue_stale(self, now: float, stale_seconds: float) -> None:
        """In-flight batches of a flusher that died go back to the parking list."""
        for key in self._r.scan_iter(match=f"{keys.METRICS_INFLIGHT}*", count=100):
            started = int(key.decode()[len(keys.METRICS_INFLIGHT):].split(":", 1)[0])
            if started < now - stale_seconds:
                batch = self._r.lrange(key, 0, -1)
                if batch:
                    self._r.rpush(keys.METRICS_PENDING, *batch)
                self._r.delete(key)
