"""Support state (M5): each requester's not-closed tickets the bridge knows of, and who may read
and send a requester's count right now.

- `zkb:support:open:<requester>`: a set of ticket ids. A set, so a retried or duplicated event
  never counts a ticket twice.
- `zkb:support:ticket:<ticket>`: the requester the ticket is counted under, or `closed`. Closed
  is final in Zendesk, so that mark is a tombstone: an `Opened Ticket` handled after its
  `Resolved Ticket` (out-of-order webhooks, the catch-up sweep) never re-adds the ticket. It
  also lets a closure remove the ticket from the requester it was counted under when Zendesk
  moved it to another requester since (a user merge).
- `zkb:support:hold:<requester>`: a short lease with a token, so the read of the count and the
  Klaviyo call that carries it happen for one requester at a time.

Every path that sends ticket metrics (handlers/ticket_metric.py, also for what the catch-up
sweep asks; the bulk flush, handlers/metric_burst.py; ops/backfill.py) does two things, so the
count ends right whatever the order:
1. `note` when an event is built: Opened adds the ticket, Resolved removes it for good.
2. `stamped` around the Klaviyo call: the requesters are held, their counts read, the events
   carry them in their `profile` object, the call is made, the holds let go. Klaviyo keeps the
   value of the event it records last, so what matters is that the last call for a requester
   carries the latest count: every change is followed by a send of its own that reads the count
   after it, and two sends for one requester never overlap, so the last one read last. A parked
   event (a burst) is stamped when it is flushed, not when it was parked.

Every key and lifetime is in redis_keys.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis

from bridge.adapters import redis_keys as keys
from bridge.domain.metric_rules import MetricEvent
from bridge.domain.support_rules import CLOSED_CHANGE, change_of, with_open_tickets

# KEYS[1] the ticket's mark, KEYS[2] the requester's set; ARGV ticket id, requester id, change
# (opened | closed), ttl, prefix of the sets. Returns the requester's count after the change.
# The set a ticket was counted under is found through its mark (a key built in the script:
# this Redis is one primary, never a cluster).
_APPLY = """
local mark = redis.call('GET', KEYS[1])
if mark and mark ~= 'closed' and mark ~= ARGV[2] then
  redis.call('SREM', ARGV[5] .. mark, ARGV[1])
end
if mark == 'closed' or ARGV[3] == 'closed' then
  redis.call('SREM', KEYS[2], ARGV[1])
  redis.call('SET', KEYS[1], 'closed', 'EX', tonumber(ARGV[4]))
else
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
  redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[4]))
end
return redis.call('SCARD', KEYS[2])
"""

# KEYS[1] a hold; ARGV[1] the holder's token: only the holder lets go.
_LET_GO = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

NOBODY = 0      # a closure with no requester (a deleted ticket): only the ticket's mark counts
POLL_SECONDS = 0.05     # a busy requester is one Klaviyo call away from free


class SupportState:
    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._apply = client.register_script(_APPLY)
        self._let_go = client.register_script(_LET_GO)

    def apply(self, changes: list[tuple[int, int, str]]) -> list[int]:
        """Apply (ticket id, requester id, `opened` | `closed`) changes in one round trip;
        returns each requester's count after its change."""
        if not changes:
            return []
        pipe = self._r.pipeline(transaction=False)
        for ticket_id, requester_id, change in changes:
            self._apply(keys=[keys.support_ticket(ticket_id), keys.support_open(requester_id)],
                        args=[ticket_id, requester_id, change, keys.SUPPORT_TTL,
                              keys.support_open_prefix()], client=pipe)
        return [int(n) for n in pipe.execute()]

    def note(self, events: list[MetricEvent]) -> None:
        """Record what these events change in their requesters' open tickets (idempotent)."""
        self.apply([(e.ticket_id, e.requester_id, change) for e in events
                    if e.requester_id is not None and (change := change_of(e.metric))])

    @contextmanager
    def stamped(self, events: list[MetricEvent], name: str, *, wait: float = 0.0,
                sleep: Callable[[float], None] = time.sleep,
                ) -> Iterator[list[MetricEvent | None]]:
        """Hold the events' requesters (waiting up to `wait` seconds for busy ones) and yield
        the events, in order, each carrying its requester's count now; None in place of an
        event whose requester another process still holds (send it later). Make the Klaviyo
        call inside the block."""
        token = uuid.uuid4().hex
        held = self._hold_all({e.requester_id for e in events if e.requester_id is not None},
                              token, wait, sleep)
        try:
            counts = dict(zip(held, self.counts(held), strict=True))
            yield [e if e.requester_id is None      # parked before M5: sent as it was built
                   else with_open_tickets(e, name, counts[e.requester_id])
                   if e.requester_id in counts else None for e in events]
        finally:
            self.let_go(held, token)

    def _hold_all(self, requesters: set[int], token: str, wait: float,
                  sleep: Callable[[float], None]) -> list[int]:
        held: list[int] = []
        waiting, waited = sorted(requesters), 0.0
        while waiting:
            got = self.hold(waiting, token)
            held += [rid for rid, ok in zip(waiting, got, strict=True) if ok]
            waiting = [rid for rid, ok in zip(waiting, got, strict=True) if not ok]
            if not waiting or waited >= wait:
                break
            sleep(POLL_SECONDS)
            waited += POLL_SECONDS
        return held

    def forget(self, ticket_id: int) -> None:
        """The ticket is gone (deleted): it stops counting wherever it counted, for good."""
        self.apply([(ticket_id, NOBODY, CLOSED_CHANGE)])

    def counts(self, requester_ids: list[int]) -> list[int]:
        """Each requester's count of not-closed tickets the bridge knows of, now."""
        pipe = self._r.pipeline(transaction=False)
        for rid in requester_ids:
            pipe.scard(keys.support_open(rid))
        return [int(n) for n in pipe.execute()]

    def hold(self, requester_ids: list[int], token: str) -> list[bool]:
        """Take each requester's hold for `token` (SET NX, 60 s); False where another holds it."""
        pipe = self._r.pipeline(transaction=False)
        for rid in requester_ids:
            pipe.set(keys.support_hold(rid), token, nx=True, ex=keys.CLAIM_TTL)
        return [bool(x) for x in pipe.execute()]

    def let_go(self, requester_ids: list[int], token: str) -> None:
        if not requester_ids:
            return
        pipe = self._r.pipeline(transaction=False)
        for rid in requester_ids:
            self._let_go(keys=[keys.support_hold(rid)], args=[token], client=pipe)
        pipe.execute()
