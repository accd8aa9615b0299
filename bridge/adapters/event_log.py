"""The event log (E1): every webhook event kept under its id with its state, from receipt to
done, dropped or failed. The receiver writes it in one round trip per delivery; handlers read
and update it; the sweep and replay find stranded events in it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import redis

from bridge.adapters import redis_keys as keys
from bridge.adapters.meters import counter_field
from bridge.domain.model import RawEvent

# One round trip per delivery: keep each new event, give it a receipt sequence number, put it
# in its ordered queue and in the "enqueue not yet confirmed" set; report known events' state.
_SAVE_EVENTS = """
local now, ttl, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 1, n do
  local b = 3 + (i - 1) * 5
  local raw, kind, queue, score, ref = ARGV[b+1], ARGV[b+2], ARGV[b+3], ARGV[b+4], ARGV[b+5]
  -- known: stored with its body, or settled and kept as id + outcome only (E6)
  if redis.call('HEXISTS', KEYS[i], 'raw') == 0 and not redis.call('HGET', KEYS[i], 'state') then
    local seq = redis.call('INCR', 'zkb:seq')
    redis.call('HSET', KEYS[i], 'raw', raw, 'kind', kind, 'received_at', now, 'seq', seq,
               'state', 'received')
    if queue ~= '' then
      redis.call('HSET', KEYS[i], 'queue', queue, 'score', score)
      redis.call('ZADD', 'zkb:convq:' .. queue, score, string.format('%015d|%s', seq, ref))
    end
    redis.call('EXPIRE', KEYS[i], ttl)
    redis.call('ZADD', 'zkb:unqueued', now, ref)
    out[i] = 'new'
  else
    out[i] = redis.call('HGET', KEYS[i], 'state') or 'nil'
  end
end
return out
"""

# "queued" is written after the task is published, and a worker may have finished the event in
# between (a delivery of many texts is published one by one): only a "received" event becomes
# "queued", so a done, dropped or failed event never goes back to waiting.
_MARK_QUEUED = """
for _, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'state') == 'received' then
    redis.call('HSET', key, 'state', 'queued')
  end
end
"""

# Events kept only for de-duplication (E6): id and outcome, no body. A repeat of a stored event
# changes nothing; each new one counts once under `<counter>`.
_SAVE_DROPPED = """
local now, ttl, reason, counter = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local n = 0
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'state', 'dropped', 'reason', reason)
    redis.call('EXPIRE', key, ttl)
    n = n + 1
  end
end
if n > 0 then redis.call('HINCRBY', 'zkb:counters', counter, n) end
return n
"""

# A settled event (done or dropped) keeps only what de-duplication needs, for the dedup window:
# its state and reason (E6: a few dozen bytes, whatever its body was; the outcome is the
# state's: done = applied). Its log line and counters keep the rest.
_SETTLE = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'reason', ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
"""

Route = Callable[[RawEvent], tuple[str, float] | None]


class EventLog:
    def __init__(self, client: redis.Redis, event_ttl: int = 14 * keys.DAY,
                 wait_replicas: int = 0, wait_ms: int = 500,
                 dedup_window: int = 3 * keys.DAY) -> None:
        self._r = client
        self.event_ttl = event_ttl              # an event's body, until its work is settled
        self.dedup_window = dedup_window        # its id + outcome afterwards (E6)
        # Under Sentinel: replicas that must hold a delivery's writes before it is acknowledged
        # (docs/scaling.md); 0 sends no WAIT.
        self.wait_replicas, self.wait_ms = wait_replicas, wait_ms
        self._save = client.register_script(_SAVE_EVENTS)
        self._mark_queued = client.register_script(_MARK_QUEUED)
        self._save_dropped = client.register_script(_SAVE_DROPPED)
        self._settle = client.register_script(_SETTLE)

    def save_events(self, events: list[RawEvent], now: float, route: Route = lambda e: None,
                    ) -> tuple[list[RawEvent], list[RawEvent]]:
        """Keep each event under its id. Returns (new, known-but-not-yet-queued).

        `route(event)` names the ordered queue (and score) the event waits in, if any; the event
        takes its place there now, at receipt, so its order never depends on its task.
        A repeat of an event that reached the queue is neither new nor returned. A repeat of one
        whose enqueue was never confirmed (the receiver died in between) is handed back to
        enqueue again: tasks are idempotent, losing the event is not an option.
        """
        args: list[Any] = [now, self.event_ttl, len(events)]
        for e in events:
            where = route(e)
            args += [json.dumps(e.data, separators=(",", ":")), e.kind,
                     where[0] if where else "", repr(where[1]) if where else "0", e.ref]
        states = self._save(keys=[keys.event(e.ref) for e in events], args=args)
        return _sort_saved(events, states)

    def settle_receipt(self, source: str, queued: list[str], unused: list[RawEvent],
                       received: int) -> int:
        """After enqueueing: mark what was queued or dropped, and count, in one round trip.

        With `wait_replicas`, the same round trip ends with `WAIT`: on this connection it covers
        these writes and, as replication is one ordered stream, every earlier write of the
        delivery (its events, its queue places, its Celery messages). Returns how many replicas
        acknowledged them (0 when no WAIT is sent)."""
        pipe = self._r.pipeline(transaction=False)
        if queued:
            self._mark_queued(keys=[keys.event(ref) for ref in queued], client=pipe)
        for e in unused:
            pipe.hset(keys.event(e.ref), mapping={"state": "dropped", "reason": "topic_not_used"})
            pipe.hincrby(keys.COUNTERS, counter_field(source, "dropped", f"topic:{e.kind}")[:100],
                         1)
        done = queued + [e.ref for e in unused]
        if done:
            pipe.zrem(keys.UNQUEUED, *done)
        pipe.hincrby(keys.COUNTERS, counter_field(source, "received"), received)
        if self.wait_replicas:
            pipe.wait(self.wait_replicas, self.wait_ms)
            return int(pipe.execute()[-1])
        pipe.execute()
        return 0

    def save_dropped(self, events: list[RawEvent], now: float, counter: str,
                     reason: str) -> int:
        """Keep events that need no work as id + outcome only (no body, no queue), counted once
        under `counter`: a repeat delivery is still recognised. Returns how many were new."""
        if not events:
            return 0
        return int(self._save_dropped(keys=[keys.event(e.ref) for e in events],
                                      args=[now, self.dedup_window, reason, counter]))

    def mark_queued(self, refs: list[str]) -> None:
        if not refs:
            return
        pipe = self._r.pipeline(transaction=False)
        self._mark_queued(keys=[keys.event(ref) for ref in refs], client=pipe)
        pipe.zrem(keys.UNQUEUED, *refs)
        pipe.execute()

    def drop_unused(self, ref: str) -> None:
        """An event of a topic no task handles leaves the "enqueue not confirmed" set as
        dropped, as the receiver does when it settles a delivery."""
        pipe = self._r.pipeline(transaction=False)
        pipe.hset(keys.event(ref), mapping={"state": "dropped", "reason": "topic_not_used"})
        pipe.zrem(keys.UNQUEUED, ref)
        pipe.execute()

    def unqueued_before(self, cutoff: float) -> list[tuple[str, str]]:
        """Events stored before `cutoff` whose enqueue was never confirmed: (ref, kind)."""
        refs = [r.decode() for r in self._r.zrangebyscore(keys.UNQUEUED, 0, cutoff)]
        pipe = self._r.pipeline(transaction=False)
        for ref in refs:
            pipe.hget(keys.event(ref), "kind")
        kinds = pipe.execute()
        out = []
        for ref, kind in zip(refs, kinds, strict=True):
            if kind is None:  # expired or flushed: nothing left to queue
                self._r.zrem(keys.UNQUEUED, ref)
            else:
                out.append((ref, kind.decode()))
        return out

    def settle_event(self, ref: str, state: str, outcome: str, reason: str, now: float) -> None:
        """Done or dropped: keep id + outcome only, for the dedup window (E6)."""
        self._settle(keys=[keys.event(ref)], args=[state, reason, self.dedup_window])

    def load_event(self, ref: str) -> dict[str, Any] | None:
        """The event with its body as `data`; a settled one (id + outcome only) has `data` {}.
        None if nothing is stored."""
        raw = self._r.hgetall(keys.event(ref))
        if not raw or (b"raw" not in raw and b"state" not in raw):
            return None
        doc = {k.decode(): v.decode() for k, v in raw.items()}
        doc["data"] = json.loads(doc.pop("raw", "{}"))
        if "prepared" in doc:
            doc["prepared"] = json.loads(doc["prepared"])
        return doc

    def update_event(self, ref: str, **fields: Any) -> None:
        values = {k: json.dumps(v) if isinstance(v, dict | list) else v
                  for k, v in fields.items()}
        self._r.hset(keys.event(ref), mapping=values)

    def bump_attempts(self, ref: str, error: str) -> int:
        pipe = self._r.pipeline()
        pipe.hincrby(keys.event(ref), "attempts", 1)
        pipe.hset(keys.event(ref), "last_error", error[:500])
        return int(pipe.execute()[0])

    def event_fields(self, refs: list[str], *names: str) -> list[dict[str, str]]:
        """Some fields of several events in one round trip ({} for an event not stored)."""
        pipe = self._r.pipeline(transaction=False)
        for ref in refs:
            pipe.hmget(keys.event(ref), *names)
        return [{n: v.decode() for n, v in zip(names, values, strict=True) if v is not None}
                for values in pipe.execute()]

    def reopen_event(self, ref: str, now: float) -> bool:
        """Replay: make a set-aside event runnable again, atomically. Its state becomes queued and
        its attempts 0; it takes back its place in its ordered queue (same receipt number and
        score, so it sorts where it was); its stored life starts again; and it joins the
        "enqueue not yet confirmed" set, so the sweep publishes it if the caller's publish
        fails. False if the event is no longer stored."""
        key = keys.event(ref)
        seq, queue, score = self._r.hmget(key, "seq", "queue", "score")
        if not self._r.exists(key):
            return False
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, mapping={"state": "queued", "attempts": 0, "replayed_at": now})
        if queue and seq is not None:
            member = f"{int(seq):015d}|{ref}"
            pipe.zadd(keys.ordered_queue(queue.decode()), {member: float(score or 0)})
        pipe.expire(key, self.event_ttl)
        pipe.zadd(keys.UNQUEUED, {ref: now})
        pipe.execute()
        return True


def _sort_saved(events: list[RawEvent], states: list[bytes],
                ) -> tuple[list[RawEvent], list[RawEvent]]:
    """(new, handed back to enqueue again) from the save script's answers; an id repeated
    inside one delivery counts once."""
    new, retry, handed_back = [], [], set()
    for e, state in zip(events, states, strict=True):
        if e.ref in handed_back:
            continue
        if state == b"new":
            new.append(e)
        elif state in (b"nil", b"received"):
            retry.append(e)
        else:
            continue
        handed_back.add(e.ref)
    return new, retry
