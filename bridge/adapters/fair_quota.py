"""Brands take turns on a shared budget (rule E7, #16): one Zendesk account's quota, several brands.

Built on the sliding-window log of adapters/quota.py (same Redis keys, same clock, same
guard): a grant is a member of each window's sorted set, so no span of a window's length
ever holds more grants than its limit, whoever asked. What is new is who gets the room left:

- Each member names its brand and lane (`<brand>|<lane>|<id>`), so the script counts what
  each brand has used of the window in the caller's lane (E6 lanes: interactive, background;
  a lane's limit is the one its Budget carries, budgets.background_share for background).
- A brand is *asking* while it has asked recently: granted ones for ASKING_SECONDS, refused
  ones until they are due to ask again (+ ASKING_SECONDS), kept per lane in
  `zkb:quota:<budget>:<window>:asking:<lane>` (brand -> until when).
- With k brands asking in a lane, a brand's fair share is limit / k. A brand at or over its
  share is refused while the room left is no more than what the brands asking below their
  share are still owed; otherwise it is granted (work-conserving: a brand alone, or with
  others not asking, gets the whole budget, and room nobody is owed is never left unused).

So a campaign or reply wave of one brand cannot starve another brand's customer texts: once
the other brand asks, the flooding brand waits for its share while the other catches up.

Cost: each call reads its windows' grants once (a Zendesk minute holds at most the plan's limit,
200 to 2500), in the script, so brands never disagree about who used what.

Members written by the plain Quota (no `|`: today's grants, reservations of holders) count as
the default brand's interactive calls, so a rolling upgrade stays under the limit. Holder
reservations (Quota.grant(holder=...)) are not fair-shared yet: see docs/brands.md.
Not wired into bootstrap yet (groundwork for #16).
"""

from __future__ import annotations

import redis

from bridge.adapters import redis_keys as keys
from bridge.adapters.quota import GUARD_SECONDS
from bridge.domain.model import Budget

ASKING_SECONDS = 1.0   # how long a brand counts as asking after its last request

# KEYS: (window, asking) per budget window. ARGV: brand, lane, asking seconds, claim (1: a
# refused caller asks again when due, so it stays asking until then; 0: it will not, e.g. a
# text staged for a bulk job instead), then (limit, span) per window. Answers 'granted
# <member>' or '<wait>' (nothing taken).
_FAIR = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local brand, lane, asking, claim = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local wait = 0
local function usage(key)
  local members = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  local used, mine = {}, nil
  for j = 1, #members, 2 do
    local b, l = string.match(members[j], '^([^|]*)|([^|]*)|')
    if not b then b, l = 'default', 'interactive' end
    if l == lane then
      used[b] = (used[b] or 0) + 1
      if b == brand and not mine then mine = tonumber(members[j + 1]) end
    end
  end
  return members, used, mine
end
for i = 1, #KEYS / 2 do
  local key, ask = KEYS[2 * i - 1], KEYS[2 * i]
  local limit, span = tonumber(ARGV[2 * i + 3]), tonumber(ARGV[2 * i + 4])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  redis.call('ZREMRANGEBYSCORE', ask, '-inf', now)
  local members, used, mine = usage(key)
  local total, w = #members / 2, 0
  if total >= limit then
    w = tonumber(members[2 * (total - limit) + 2]) + span - now
  else
    local others = redis.call('ZRANGEBYSCORE', ask, now, '+inf')
    local k, owed = 1, 0
    for _, b in ipairs(others) do if b ~= brand then k = k + 1 end end
    local fair = limit / k
    for _, b in ipairs(others) do
      if b ~= brand then owed = owed + math.max(0, fair - (used[b] or 0)) end
    end
    if (used[brand] or 0) >= fair and limit - total <= owed then
      w = math.min((mine or now) + span - now, asking)
    end
  end
  if w > wait then wait = w end
end
local until_at = now + asking
if wait > 0 and claim == '1' then until_at = now + wait + asking end
for i = 1, #KEYS / 2 do
  local ask = KEYS[2 * i]
  if (redis.call('ZSCORE', ask, brand) or 0) + 0 < until_at then
    redis.call('ZADD', ask, until_at, brand)
  end
  redis.call('PEXPIRE', ask, math.ceil((until_at - now) * 1000) + 1000)
end
if wait > 0 then return tostring(wait + 0.001) end
local member = brand .. '|' .. lane .. '|' .. redis.call('INCR', 'zkb:quota:seq')
for i = 1, #KEYS / 2 do
  local key, span = KEYS[2 * i - 1], tonumber(ARGV[2 * i + 4])
  redis.call('ZADD', key, now, member)
  if redis.call('PTTL', key) < span * 1000 + 1000 then
    redis.call('PEXPIRE', key, math.ceil(span * 1000) + 1000)
  end
end
return 'granted ' .. member
"""


class FairQuota:
    """Shared budgets granted to brands in turn (see the module docstring)."""

    def __init__(self, client: redis.Redis, asking_seconds: float = ASKING_SECONDS) -> None:
        self._client = client
        self._script = client.register_script(_FAIR)
        self._asking = asking_seconds

    def take(self, *budgets: Budget, brand: str, lane: str, claim: bool = True) -> float:
        """One call from every budget for `brand` in `lane`: 0.0 if granted, else seconds to
        wait (nothing taken). `claim=False`: a refusal will not be asked again (the caller
        takes another way), so the brand keeps no claim on the room until it is due."""
        return self.grant(*budgets, brand=brand, lane=lane, claim=claim)[0]

    def grant(self, *budgets: Budget, brand: str, lane: str,
              claim: bool = True) -> tuple[float, str | None]:
        """`take`, naming the grant so it can be refunded (or confirmed by Quota.confirm, which
        works on the same keys): (0.0, grant) or (wait, None)."""
        if "|" in brand or "|" in lane:
            raise ValueError("brand and lane names may not contain '|'")
        window_keys, args = fair_windows(budgets, lane)
        if not window_keys:
            return 0.0, None
        answer = self._script(keys=window_keys,
                              args=[brand, lane, self._asking, 1 if claim else 0, *args])
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        if text.startswith("granted "):
            return 0.0, text.split(" ", 1)[1]
        return float(text), None

    def refund(self, grant: str, *budgets: Budget) -> None:
        """Give back a grant whose call was never made."""
        pipe = self._client.pipeline()
        for b in budgets:
            for _, seconds in b.windows:
                pipe.zrem(keys.quota(b.name, seconds), grant)
        pipe.execute()


def fair_windows(budgets: tuple[Budget, ...], lane: str) -> tuple[list[str], list[float]]:
    """KEYS (window, asking) and ARGV (limit, span) of each budget window, as quota.py's
    windows: the vendor's span plus GUARD_SECONDS."""
    found: list[str] = []
    args: list[float] = []
    for b in budgets:
        for limit, seconds in b.windows:
            found += [keys.quota(b.name, seconds), keys.quota_asking(b.name, seconds, lane)]
            args += [limit, seconds + GUARD_SECONDS]
    return found, args
