"""One beat at a time: a lease in Redis that the running beat renews and a second one waits
for (workers/beat.py). If the holder dies, its lease expires and a standby takes over."""

from __future__ import annotations

import redis

from bridge.adapters import redis_keys as keys

# Renew the lease if we hold it, else take it if nobody does: 1 when held by `owner` afterwards.
HOLD = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
GIVE_UP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class BeatLease:
    def __init__(self, client: redis.Redis, ttl_seconds: float = keys.BEAT_LEASE_TTL) -> None:
        self._r, self.ttl_ms = client, int(ttl_seconds * 1000)

    @classmethod
    def of(cls, store: object) -> BeatLease:
        return cls(store.client)  # type: ignore[attr-defined]

    def hold(self, owner: str) -> bool:
        """Take or renew the lease for `owner`; False while another beat holds it."""
        return bool(self._r.eval(HOLD, 1, keys.BEAT_LEASE, owner, self.ttl_ms))

    def release(self, owner: str) -> None:
        self._r.eval(GIVE_UP, 1, keys.BEAT_LEASE, owner)
