"""The parking list of metric events waiting for Klaviyo's bulk endpoint (handlers.metric_burst).

A batch moves to an in-flight list named by a token before it is sent, and is removed only
after Klaviyo's 202; a flusher that dies leaves the in-flight list behind, and a later flush
puts stale in-flight batches back.

A batch is capped by count and by the bytes of its events (Klaviyo takes at most 5 MB per
call). An event Klaviyo refuses on its own is set aside in `zkb:metrics:failed` under its ref
(`metric:<unique_id>`), so failed jobs can show it and a replay can park it again.
"""

from __future__ import annotations

import uuid

import redis

from bridge.adapters import redis_keys as keys

# Atomically: the first events of the parking list that fit `max_bytes` (at least one, at most
# `size`) move to the in-flight list KEYS[2].
TAKE_BATCH = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local taken, total = {}, 0
for i, item in ipairs(items) do
  total = total + #item + 1
  if i > 1 and total > tonumber(ARGV[2]) then break end
  taken[i] = item
end
if #taken > 0 then
  redis.call('LTRIM', KEYS[1], #taken, -1)
  redis.call('RPUSH', KEYS[2], unpack(taken))
end
return taken
"""


class MetricBuffer:
    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._take = client.register_script(TAKE_BATCH)

    def park(self, event_json: str, ticket_id: int, metric: str) -> None:
        """Park one event; its done-marker is set now (it will be sent)."""
        pipe = self._r.pipeline()
        pipe.rpush(keys.metrics_pending(), event_json)
        pipe.set(keys.metric(ticket_id, metric), "bulk", ex=keys.METRIC_TTL)
        pipe.execute()

    def waiting(self) -> int:
        return int(self._r.llen(keys.metrics_pending()))

    def take_batch(self, size: int, now: float,
                   max_bytes: int = 4_500_000) -> tuple[str, list[bytes]]:
        """Move the first parked events, up to `size` of them and `max_bytes` of JSON (one at
        least), to a new in-flight list: (its token, the events)."""
        token = f"{keys.metrics_inflight()}{int(now)}:{uuid.uuid4().hex}"
        batch = self._take(keys=[keys.metrics_pending(), token], args=[size, max_bytes])
        return token, list(batch or [])

    def put_back(self, token: str, batch: list[bytes]) -> None:
        """The send failed in a way worth retrying: the batch waits again."""
        pipe = self._r.pipeline()
        if batch:
            pipe.rpush(keys.metrics_pending(), *batch)
        pipe.delete(token)
        pipe.execute()

    # --- events Klaviyo refused on their own (failed jobs, replayable) ----------------------
    def set_aside(self, ref: str, event_json: bytes | str) -> None:
        self._r.hset(keys.metrics_failed(), ref, event_json)

    def set_aside_event(self, ref: str) -> str | None:
        raw = self._r.hget(keys.metrics_failed(), ref)
        return raw.decode() if raw else None

    def park_again(self, ref: str) -> bool:
        """A replay: the set-aside event waits for the next flush again (it stays set aside
        until Klaviyo takes it: `settle`). False if there is no such event."""
        raw = self._r.hget(keys.metrics_failed(), ref)
        if raw is None:
            return False
        self._r.rpush(keys.metrics_pending(), raw)
        return True

    def settle(self, refs: list[str]) -> list[str]:
        """Klaviyo took these events: those that were set aside stop being so (returned)."""
        if not refs:
            return []
        found = self._r.hmget(keys.metrics_failed(), refs)
        settled = [ref for ref, raw in zip(refs, found, strict=True) if raw is not None]
        if settled:
            self._r.hdel(keys.metrics_failed(), *settled)
        return settled

    def forget(self, refs: list[str] | None) -> None:
        """Purged from failed jobs: the set-aside events are dropped (all when None)."""
        if refs is None:
            self._r.delete(keys.metrics_failed())
        elif refs:
            self._r.hdel(keys.metrics_failed(), *refs)

    def done(self, token: str) -> None:
        self._r.delete(token)

    def requeue_stale(self, now: float, stale_seconds: float) -> None:
        """In-flight batches of a flusher that died go back to the parking list."""
        for key in self._r.scan_iter(match=f"{keys.metrics_inflight()}*", count=100):
            started = int(key.decode()[len(keys.metrics_inflight()):].split(":", 1)[0])
            if started < now - stale_seconds:
                batch = self._r.lrange(key, 0, -1)
                if batch:
                    self._r.rpush(keys.metrics_pending(), *batch)
                self._r.delete(key)
