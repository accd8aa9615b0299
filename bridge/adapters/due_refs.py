"""Jobs waiting longer than a Celery countdown can safely wait (#14): event refs in a sorted set
by due time (`zkb:due`), published by beat's `bridge.release_due` when due.

A countdown or ETA longer than the broker's visibility timeout (minus the task's run time) is
delivered twice by kombu's Redis transport, so the task layer never asks for one: a job told
to wait longer (a quota reservation minutes ahead, quiet hours later) parks its ref here and
ends. Parking the same ref again keeps the earlier due time. Taking is atomic (a Lua script), so
two beats, or a beat and a restart, never publish one entry twice; an entry that could not be
published is parked again.
"""

from __future__ import annotations

import redis

from bridge.adapters import redis_keys as keys

_TAKE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0,
                       tonumber(ARGV[2]))
for i = 1, #due, 2 do redis.call('ZREM', KEYS[1], due[i]) end
return due
"""


class DueRefs:
    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._take = client.register_script(_TAKE)

    def park(self, ref: str, due: float) -> bool:
        """`ref` waits until `due` (epoch seconds); an earlier due time already set stays.
        True if it was not waiting yet (one more wake-up), False if it already was."""
        return bool(self._r.zadd(keys.DUE, {ref: due}, lt=True))

    def take_due(self, until: float, limit: int = 500) -> list[tuple[str, float]]:
        """Remove and answer the refs due by `until`, earliest first."""
        flat = self._take(keys=[keys.DUE], args=[until, limit])
        return [(flat[i].decode() if isinstance(flat[i], bytes) else str(flat[i]),
                 float(flat[i + 1])) for i in range(0, len(flat), 2)]

    def next_due(self) -> float | None:
        first = self._r.zrange(keys.DUE, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    def holding(self, refs: list[str]) -> set[str]:
        """Which of `refs` wait here (the sweep leaves them alone: they are not stranded)."""
        if not refs:
            return set()
        scores = self._r.zmscore(keys.DUE, refs)
        return {ref for ref, score in zip(refs, scores, strict=True) if score is not None}

    def parked(self, limit: int) -> list[tuple[str, float]]:
        """The first `limit` refs waiting here, soonest first (for /ops)."""
        return [(r.decode(), float(at))
                for r, at in self._r.zrange(keys.DUE, 0, limit - 1, withscores=True)]

    def waiting(self) -> int:
        return int(self._r.zcard(keys.DUE))
