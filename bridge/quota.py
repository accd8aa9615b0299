"""A request budget shared by every worker process, kept in Redis (E3).

Vendors limit calls per account in fixed windows (Klaviyo: 1 s and 60 s). Celery's own
`rate_limit` is per worker, so it cannot keep a fleet under an account limit. This is a GCRA
("generic cell rate") limiter: one Redis key per budget holding the theoretical arrival time,
updated atomically by a Lua script using Redis's clock, so all hosts agree.

With a burst of 1 and one call every 60/(N-1) seconds, no 60-second span, hence no fixed
window, ever sees more than N calls, while the steady rate is (N-1)/N of the quota (98% at 60).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - now - burst * interval
if wait > 0.001 then return tostring(wait) end  -- tolerance for float rounding
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return '0'
"""


@dataclass(frozen=True)
class Budget:
    name: str
    per_minute: int
    burst: int = 1

    @property
    def interval(self) -> float:
        return 60.0 / max(1, self.per_minute - self.burst)


class Quota:
    def __init__(self, client: redis.Redis) -> None:
        self._script = client.register_script(_GCRA)

    def take(self, budget: Budget) -> float:
        """Take one call from the budget: 0.0 if granted, else seconds to wait (not taken)."""
        return float(self._script(keys=[f"zkb:quota:{budget.name}"],
                                  args=[budget.interval, budget.burst]))
