"""Request budgets shared by every worker process, kept in Redis (E3).

Vendors limit calls per account in windows (Zendesk: per minute by plan; Klaviyo: per second
and per minute). Celery's own `rate_limit` is per worker, so it cannot keep a fleet under an
account limit. This is a sliding-window log: one Redis sorted set per budget window holding the
times of the calls granted in the last window, checked and updated atomically by a Lua script
using Redis's clock, so all hosts agree. A call may need several budgets at once (Zendesk's
account limit and its ticket-update limit); they are taken together or not at all.

No span of a window's length ever holds more grants than its limit, so no vendor window (fixed
or sliding) can see more, while a backlog still drains at the full rate. Two margins cover the
time between a grant and the vendor receiving its request: every window is GUARD_SECONDS
longer here than the vendor's, and the per-minute windows keep one call in hand.

A caller that prepares its call after the grant (a reply looks its customer up first) `confirm`s
the grant just before the call: its time becomes the time of the call, so a slow preparation
cannot push two calls closer together than the vendor allows.
"""

from __future__ import annotations

import redis

from bridge.adapters import redis_keys as rkeys
from bridge.domain.model import Budget

# Shared by both scripts. KEYS: one sorted set per budget window; ARGV starts with (limit,
# span) per key. `open_at` is the earliest time at which the calls already made (scores up to
# now; reservations further ahead are not calls yet) leave room for one more in every window.
_COMMON = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - tonumber(ARGV[2 * i]))
end
local function open_at()
  local at = now
  for i, key in ipairs(KEYS) do
    local limit, span = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
    local n = redis.call('ZCOUNT', key, '-inf', now)
    if n >= limit then
      local nth = redis.call('ZRANGEBYSCORE', key, '-inf', now, 'WITHSCORES', 'LIMIT', n - limit, 1)
      if tonumber(nth[2]) + span > at then at = tonumber(nth[2]) + span end
    end
  end
  return at
end
local function place(id, at)
  for i, key in ipairs(KEYS) do
    redis.call('ZADD', key, at, id)
    local keep = math.ceil((at - now + tonumber(ARGV[2 * i])) * 1000) + 1000
    if redis.call('PTTL', key) < keep then redis.call('PEXPIRE', key, keep) end
  end
end
"""

# ARGV: (limit, span) per key, then the holder ('' for none) and the lateness a reservation
# tolerates. Answers 'granted <id>', 'reserved <wait>' (a slot is now the holder's, `wait`
# seconds from now), 'held <wait>' (the holder's slot is still ahead) or '<wait>' (nothing
# taken). A holder meeting its slot is granted if the calls made since leave room (they may
# have been confirmed later than granted); if not, its slot moves to when they do.
_SLIDING = _COMMON + """
local holder, late = ARGV[#ARGV - 1], tonumber(ARGV[#ARGV])
if holder ~= '' then
  local held = redis.call('ZSCORE', KEYS[1], holder)
  if held then
    held = tonumber(held)
    if held > now + 0.05 then return 'held ' .. tostring(held - now) end
    for _, key in ipairs(KEYS) do redis.call('ZREM', key, holder) end
    if held >= now - late then
      local at = open_at()
      place(holder, at)
      if at <= now then return 'granted ' .. holder end
      return 'reserved ' .. tostring(at - now + 0.001)
    end
  end
end
local wait, slot = 0, now
for i, key in ipairs(KEYS) do
  local limit, span = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local n = redis.call('ZCARD', key)
  if n >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + span - now
    if w > wait then wait = w end
    local nth = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
    if tonumber(nth[2]) + span > slot then slot = tonumber(nth[2]) + span end
  end
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] and tonumber(last[2]) > slot then slot = tonumber(last[2]) end
end
if wait > 0 and holder == '' then return tostring(wait + 0.001) end
if wait > 0 then
  place(holder, slot)
  return 'reserved ' .. tostring(slot - now + 0.001)
end
local id = holder
if id == '' then id = tostring(redis.call('INCR', 'zkb:quota:seq')) end
place(id, now)
return 'granted ' .. id
"""

# ARGV: (limit, span) per key, then the grant. Answers '0' (the grant now carries this time)
# or '<wait>' (the windows filled meanwhile: the grant is given up).
_CONFIRM = _COMMON + """
local grant = ARGV[#ARGV]
for _, key in ipairs(KEYS) do redis.call('ZREM', key, grant) end
local at = open_at()
if at > now then return tostring(at - now + 0.001) end
place(grant, now)
return '0'
"""
LATE_SECONDS = 5.0    # a reservation redeemed later than this is given up (the slot went unused)
GUARD_SECONDS = 0.1   # each window is this much longer than the vendor's (request latency)


class Quota:
    slot_already_held = False   # the last refusal: the holder's reserved slot is still ahead

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._script = client.register_script(_SLIDING)
        self._confirm = client.register_script(_CONFIRM)

    def take(self, *budgets: Budget) -> float:
        """Take one call from every budget: 0.0 if granted, else seconds to wait (none taken)."""
        return self.grant(*budgets)[0]

    def grant(self, *budgets: Budget, holder: str | None = None) -> tuple[float, str | None]:
        """`take`, also naming the grant so it can be `refund`ed: (0.0, grant) or (wait, None).

        With a `holder` (a stable name such as `reply:<comment id>`), a refused caller is given
        a reservation instead: the next free slot becomes its own, and `wait` says when. Asking
        again at that time (within LATE_SECONDS) is granted at once, so a backlog queues in
        order and each job wakes once, instead of all of them polling the same free slot."""
        self.slot_already_held = False
        keys, args = _windows(budgets)
        if not keys:
            return 0.0, None
        answer = _text(self._script(keys=keys, args=[*args, holder or "", LATE_SECONDS]))
        if answer.startswith("granted "):
            return 0.0, answer.split(" ", 1)[1]
        self.slot_already_held = answer.startswith("held ")
        return float(answer.split(" ")[-1]), None

    def confirm(self, grant: str, *budgets: Budget) -> float:
        """Move a grant to now, just before its call: 0.0, or the seconds until the windows
        have room again (the grant is then given up; ask for a new one)."""
        keys, args = _windows(budgets)
        if not keys:
            return 0.0
        return float(_text(self._confirm(keys=keys, args=[*args, grant])))

    def refund(self, grant: str, *budgets: Budget) -> None:
        """Give back a granted call that was never made (e.g. a reply that stopped before
        sending), so it does not sit in the windows for nothing."""
        pipe = self._client.pipeline()
        for b in budgets:
            for _, seconds in b.windows:
                pipe.zrem(rkeys.quota(b.name, seconds), grant)
        pipe.execute()


def _windows(budgets: tuple[Budget, ...]) -> tuple[list[str], list[float]]:
    """The Redis key of each budget window, and its (limit, span) for the scripts."""
    keys: list[str] = []
    args: list[float] = []
    for b in budgets:
        for limit, seconds in b.windows:
            keys.append(rkeys.quota(b.name, seconds))
            args += [limit, seconds + GUARD_SECONDS]
    return keys, args


def _text(answer: object) -> str:
    return answer.decode() if isinstance(answer, bytes) else str(answer)
