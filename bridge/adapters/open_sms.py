"""The open-SMS index (E6): which phones have a not-closed SMS ticket, on which brand numbers.

A campaign's `received_sms` for a phone with no entry needs nothing (A7 notes only open SMS
tickets), so the receiver drops it on one Redis read and the worker never sees it: no task, no
Zendesk call, no keyspace scan. Kept from what the bridge writes (conversations.py calls `mark`
in the same round trip) and from ticket status webhooks (closed removes the entry). When Redis
loses it, the `ready` marker goes with it and the sweep rebuilds it from the "SMS tickets" view
(handlers/open_sms_rebuild.py); until then a receipt with no known ticket is not noted.

One hash per phone, `brand number -> "<ticket id>:<status>"`; a write for an older ticket than
the one recorded never overwrites it (a follow-up ticket replaces its closed source).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from bridge.adapters import redis_keys as keys

# KEYS[1] the phone's hash; ARGV brand, ticket id, status, ttl. Older tickets never win; closed
# removes the entry (the newest ticket of that brand number is closed, or an older one is).
_MARK = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local tid = tonumber(ARGV[2])
if cur then
  local ctid = tonumber(string.match(cur, '^(%d+)'))
  if ctid and ctid > tid then return 0 end
end
if ARGV[3] == 'closed' then
  if cur then redis.call('HDEL', KEYS[1], ARGV[1]) end
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
end
return 1
"""


class OpenSmsIndex:
    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._mark = client.register_script(_MARK)

    def mark(self, phone: str, brand: str, ticket_id: int, status: str,
             pipe: Any = None) -> None:
        """Record a ticket's status (in `pipe` when given, so it joins the caller's round trip)."""
        self._mark(keys=[keys.open_sms(phone)],
                   args=[brand, ticket_id, status or "new", keys.CONVERSATION_TTL],
                   client=pipe if pipe is not None else self._r)

    def open_tickets(self, phone: str) -> dict[str, tuple[int, str]]:
        """brand number -> (ticket id, status) of the phone's not-closed SMS tickets."""
        out = {}
        for brand, value in self._r.hgetall(keys.open_sms(phone)).items():
            tid, _, status = value.decode().partition(":")
            out[brand.decode()] = (int(tid), status)
        return out

    def with_open_ticket(self, phones: list[str],
                         owns: Callable[[str], bool] | None = None) -> list[bool]:
        """For each phone, whether it has an entry (on a number `owns` accepts: one brand's
        numbers, E7): one round trip for a whole delivery."""
        if not phones:
            return []
        pipe = self._r.pipeline(transaction=False)
        for phone in phones:
            if owns is None:
                pipe.exists(keys.open_sms(phone))
            else:
                pipe.hkeys(keys.open_sms(phone))
        found = pipe.execute()
        if owns is None:
            return [bool(n) for n in found]
        return [any(owns(n.decode()) for n in numbers) for numbers in found]

    def is_ready(self) -> bool:
        """False when the index was never built or Redis lost it: the sweep rebuilds it."""
        return bool(self._r.exists(keys.OPEN_SMS_READY))

    def set_ready(self, how: str, ttl: int | None = None) -> None:
        self._r.set(keys.OPEN_SMS_READY, how, ex=ttl)
