"""Request budgets shared by every worker process, kept in Redis (E3).

Vendors limit calls per account in windows (Zendesk: per minute by plan; Klaviyo: per second
and per minute). Celery's own `rate_limit` is per worker, so it cannot keep a fleet under an
account limit. This is a sliding-window log: one Redis sorted set per budget window holding the
times of the calls granted in the last window, checked and updated atomically by a Lua script
using Redis's clock, so all hosts agree. A call may need several budgets at once (Zendesk's
account limit and its ticket-update limit); they are taken together or not at all.

No span of a window's length ever holds more grants than its limit, so no vendor window (fixed
or sliding) can see more, while a backlog still drains at the full rate. The per-minute
windows keep one call in hand: a grant and the request it allows reach the vendor a few
milliseconds apart, and that must not tip a fixed window over.
"""

from __future__ import annotations

import redis

from bridge.domain.model import Budget

_SLIDING = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local wait = 0
for i, key in ipairs(KEYS) do
  local limit, span = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + span - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return tostring(wait + 0.001) end
local id = redis.call('INCR', 'zkb:quota:seq')
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, tostring(id))
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 * i]) * 1000) + 1000)
end
return 'granted ' .. id
"""


class Quota:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._script = client.register_script(_SLIDING)

    def take(self, *budgets: Budget) -> float:
        """Take one call from every budget: 0.0 if granted, else seconds to wait (none taken)."""
        return self.grant(*budgets)[0]

    def grant(self, *budgets: Budget) -> tuple[float, str | None]:
        """`take`, also naming the grant so it can be `refund`ed: (0.0, grant) or (wait, None)."""
        keys: list[str] = []
        args: list[float] = []
        for b in budgets:
            for limit, seconds in b.windows:
                keys.append(f"zkb:quota:{b.name}:{seconds:g}")
                args += [limit, seconds]
        if not keys:
            return 0.0, None
        answer = self._script(keys=keys, args=args)
        answer = answer.decode() if isinstance(answer, bytes) else str(answer)
        if answer.startswith("granted "):
            return 0.0, answer.split(" ", 1)[1]
        return float(answer), None

    def refund(self, grant: str, *budgets: Budget) -> None:
        """Give back a granted call that was never made (e.g. a reply that stopped before
        sending), so it does not sit in the windows for nothing."""
        pipe = self._client.pipeline()
        for b in budgets:
            for _, seconds in b.windows:
                pipe.zrem(f"zkb:quota:{b.name}:{seconds:g}", grant)
        pipe.execute()
