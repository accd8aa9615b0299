"""Everything the bridge keeps in Redis, behind named methods. Keys all start with `zkb:`.

- `zkb:ev:<source>:<id>`   hash: the raw event and its state (received/queued/done/dropped/failed)
- `zkb:conv:<phone>:<brand>` hash: conversation cache (a cache: recoverable from Zendesk)
- `zkb:convq:<customer>|<brand>` zset: a conversation's texts waiting their turn, by send time
- `zkb:lock:<customer>|<brand>`  lock: one worker applies a conversation's texts at a time (S7)
- `zkb:intent:<ref>`        what a job was about to do upstream, so a crashed retry can check
- `zkb:own:comment:<id>`    comments the bridge wrote (echo guard, A2)
- `zkb:posted:<requester>:<hash>` texts the bridge posted in a customer's name (A2, first
  comments too: known before the ticket id is)
- `zkb:reply:<comment id>`  sending/sent state of an agent reply (at most one SMS, A6)
- `zkb:sent:<phone>:<hash>` texts the bridge sent recently (recognise Klaviyo's echo, A7)
- `zkb:quota:<budget>`      shared request budgets (E3, see quota.py)
- `zkb:metric:<ticket>:<metric>` Opened/Resolved Ticket already recorded (M1)
- `zkb:reconcile:*`, `zkb:backfill:*` export cursors of the catch-up sweep and the backfill
- `zkb:profile:<id>`        short-lived Klaviyo profile cache
- `zkb:counters`            hash of outcome counters, `<kind>:<outcome>:<reason>`
- `zkb:failed`              hash of failed jobs by event ref
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import redis

from bridge.domain.model import Conversation, Profile, RawEvent

# One round trip per delivery: keep each new event, give it a receipt sequence number, put it
# in its ordered queue and in the "enqueue not yet confirmed" set; report known events' state.
_SAVE_EVENTS = """
local now, ttl, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 1, n do
  local b = 3 + (i - 1) * 5
  local raw, kind, queue, score, ref = ARGV[b+1], ARGV[b+2], ARGV[b+3], ARGV[b+4], ARGV[b+5]
  if redis.call('HSETNX', KEYS[i], 'raw', raw) == 1 then
    local seq = redis.call('INCR', 'zkb:seq')
    redis.call('HSET', KEYS[i], 'kind', kind, 'received_at', now, 'seq', seq, 'state', 'received')
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

CONVERSATION_TTL = 90 * 24 * 3600
OWN_COMMENT_TTL = 90 * 24 * 3600
PROFILE_TTL = 60
INTENT_TTL = 7 * 24 * 3600
REPLY_TTL = 30 * 24 * 3600
ECHO_TTL = 6 * 3600
AGENT_TTL = 600
METRIC_TTL = 400 * 24 * 3600   # longer than any ticket stays open


class Store:
    def __init__(self, client: redis.Redis, event_ttl: int = 14 * 24 * 3600) -> None:
        self.r = client
        self.event_ttl = event_ttl
        self._save = client.register_script(_SAVE_EVENTS)
        self._mark_queued = client.register_script(_MARK_QUEUED)

    # --- events -------------------------------------------------------------------------
    def save_events(self, events: list[RawEvent], now: float,
                    route: Callable[[RawEvent], tuple[str, float] | None] = lambda e: None,
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
        states = self._save(keys=[_ev(e.ref) for e in events], args=args)
        new, retry, handed_back = [], [], set()
        for e, state in zip(events, states, strict=True):
            if e.ref in handed_back:          # an id repeated inside one delivery: once
                continue
            if state == b"new":
                new.append(e)
            elif state in (b"nil", b"received"):
                retry.append(e)
            else:
                continue
            handed_back.add(e.ref)
        return new, retry

    def settle_receipt(self, source: str, queued: list[str], unused: list[RawEvent],
                       received: int) -> None:
        """After enqueueing: mark what was queued or dropped, and count, in one round trip."""
        pipe = self.r.pipeline(transaction=False)
        if queued:
            self._mark_queued(keys=[_ev(ref) for ref in queued], client=pipe)
        for e in unused:
            pipe.hset(_ev(e.ref), mapping={"state": "dropped", "reason": "topic_not_used"})
            pipe.hincrby("zkb:counters", f"{source}:dropped:topic:{e.kind}"[:100], 1)
        done = queued + [e.ref for e in unused]
        if done:
            pipe.zrem("zkb:unqueued", *done)
        pipe.hincrby("zkb:counters", f"{source}:received:", received)
        pipe.execute()

    def mark_queued(self, refs: list[str]) -> None:
        if not refs:
            return
        pipe = self.r.pipeline(transaction=False)
        self._mark_queued(keys=[_ev(ref) for ref in refs], client=pipe)
        pipe.zrem("zkb:unqueued", *refs)
        pipe.execute()

    def unqueued_before(self, cutoff: float) -> list[tuple[str, str]]:
        """Events stored before `cutoff` whose enqueue was never confirmed: (ref, kind)."""
        refs = [r.decode() for r in self.r.zrangebyscore("zkb:unqueued", 0, cutoff)]
        pipe = self.r.pipeline(transaction=False)
        for ref in refs:
            pipe.hget(_ev(ref), "kind")
        kinds = pipe.execute()
        out = []
        for ref, kind in zip(refs, kinds, strict=True):
            if kind is None:  # expired or flushed: nothing left to queue
                self.r.zrem("zkb:unqueued", ref)
            else:
                out.append((ref, kind.decode()))
        return out

    def load_event(self, ref: str) -> dict[str, Any] | None:
        raw = self.r.hgetall(_ev(ref))
        if not raw or b"raw" not in raw:
            return None
        doc = {k.decode(): v.decode() for k, v in raw.items()}
        doc["data"] = json.loads(doc.pop("raw"))
        if "prepared" in doc:
            doc["prepared"] = json.loads(doc["prepared"])
        return doc

    def update_event(self, ref: str, **fields: Any) -> None:
        values = {k: json.dumps(v) if isinstance(v, dict | list) else v
                  for k, v in fields.items()}
        self.r.hset(_ev(ref), mapping=values)

    def bump_attempts(self, ref: str, error: str) -> int:
        pipe = self.r.pipeline()
        pipe.hincrby(_ev(ref), "attempts", 1)
        pipe.hset(_ev(ref), "last_error", error[:500])
        return int(pipe.execute()[0])

    # --- conversations --------------------------------------------------------------------
    def get_conversation(self, phone: str, brand: str) -> Conversation | None:
        raw = self.r.hgetall(_conv("conv", phone, brand))
        if not raw:
            return None
        d = {k.decode(): v.decode() for k, v in raw.items()}
        return Conversation(phone=phone, brand_number=brand,
                            ticket_id=int(d["ticket_id"]) if d.get("ticket_id") else None,
                            ticket_status=d.get("ticket_status") or None,
                            requester_id=int(d["requester_id"]) if d.get("requester_id") else None,
                            profile_id=d.get("profile_id") or None,
                            klaviyo_conversation_id=d.get("klaviyo_conversation_id") or None)

    def put_conversation(self, conv: Conversation) -> None:
        key = _conv("conv", conv.phone, conv.brand_number)
        values = {k: ("" if v is None else v) for k, v in asdict(conv).items()}
        values["updated_at"] = time.time()
        pipe = self.r.pipeline()
        pipe.hset(key, mapping=values)
        pipe.expire(key, CONVERSATION_TTL)
        if conv.ticket_id:
            pipe.set(f"zkb:ticketconv:{conv.ticket_id}", f"{conv.phone}:{conv.brand_number}",
                     ex=CONVERSATION_TTL)
        pipe.zadd("zkb:recent", {f"{conv.phone}:{conv.brand_number}": time.time()})
        pipe.zremrangebyrank("zkb:recent", 0, -201)
        pipe.execute()

    def latest_conversation_of(self, phone: str) -> Conversation | None:
        """The customer's most recently updated conversation, on any brand number."""
        best, best_at = None, -1.0
        for key in self.r.scan_iter(match=f"zkb:conv:{phone}:*", count=100):
            brand = key.decode()[len(f"zkb:conv:{phone}:"):]
            at = float(self.r.hget(key, "updated_at") or 0)
            if at > best_at:
                best, best_at = self.get_conversation(phone, brand), at
        return best

    def set_ticket_status(self, ticket_id: int, phone: str, brand: str, status: str) -> bool:
        """Keep the cached status in step with Zendesk (from its webhooks); False if not cached."""
        conv = self.get_conversation(phone, brand)
        if conv is None or conv.ticket_id != ticket_id:
            return False
        self.r.hset(_conv("conv", phone, brand), "ticket_status", status)
        return True

    # --- per-conversation order (S7) ----------------------------------------------------
    def head(self, queue: str) -> str | None:
        """The member ("<seq>|<ref>") whose turn it is in an ordered queue."""
        items = self.r.zrange(_queue(queue), 0, 0)
        return items[0].decode() if items else None

    def remove_pending(self, queue: str, member: str) -> None:
        self.r.zrem(_queue(queue), member)

    def waiting_heads(self) -> list[tuple[str, str, float, str]]:
        """(queue, head member, received_at, head kind) of every queue with waiting events."""
        out = []
        for key in self.r.scan_iter(match="zkb:convq:*", count=500):
            queue = key.decode()[len("zkb:convq:"):]
            head = self.head(queue)
            if head is None:
                continue
            received, kind = self.r.hmget(_ev(head.split("|", 1)[1]), "received_at", "kind")
            out.append((queue, head, float(received or 0), (kind or b"").decode()))
        return out

    def queue_locked(self, queue: str) -> bool:
        return bool(self.r.exists(f"zkb:lock:{queue}"))

    def queue_lock(self, queue: str, timeout: float = 120) -> Any:
        return self.r.lock(f"zkb:lock:{queue}", timeout=timeout, blocking=False)

    # --- intents, done, ledger ------------------------------------------------------------
    def get_intent(self, ref: str) -> dict[str, Any] | None:
        raw = self.r.get(f"zkb:intent:{ref}")
        return json.loads(raw) if raw else None

    def set_intent(self, ref: str, intent: dict[str, Any]) -> None:
        self.r.set(f"zkb:intent:{ref}", json.dumps(intent), ex=INTENT_TTL)

    def clear_intent(self, ref: str) -> None:
        self.r.delete(f"zkb:intent:{ref}")

    def confirm_comment(self, ref: str, intent: dict[str, Any], comment_id: int) -> None:
        """The write landed: its comment id goes into the intent and the ledger atomically."""
        pipe = self.r.pipeline(transaction=True)
        pipe.set(f"zkb:intent:{ref}", json.dumps({**intent, "comment_id": comment_id}),
                 ex=INTENT_TTL)
        pipe.set(f"zkb:own:comment:{comment_id}", 1, ex=OWN_COMMENT_TTL)
        pipe.execute()

    def remember_posted(self, requester_id: int, text: str) -> None:
        """A text the bridge is about to post in this requester's name (recorded before the
        write, and keyed by requester because a new ticket's id is not known yet, so even a
        webhook that overtakes the write's answer is recognised as the bridge's own, A2)."""
        self.r.set(f"zkb:posted:{requester_id}:{_digest(_squash(text))}", 1,
                   ex=OWN_COMMENT_TTL)

    def was_posted(self, requester_id: int, text: str) -> bool:
        return bool(self.r.exists(f"zkb:posted:{requester_id}:{_digest(_squash(text))}"))

    def remember_own_comment(self, comment_id: int) -> None:
        self.r.set(f"zkb:own:comment:{comment_id}", 1, ex=OWN_COMMENT_TTL)

    def is_own_comment(self, comment_id: int) -> bool:
        return bool(self.r.exists(f"zkb:own:comment:{comment_id}"))

    # --- agent replies (A6) ---------------------------------------------------------------
    def begin_reply(self, comment_id: int, now: float) -> bool:
        """Record the intent to send comment `comment_id` as an SMS; False if already recorded."""
        return bool(self.r.set(f"zkb:reply:{comment_id}", json.dumps({"state": "sending",
                                                                      "at": now}),
                               nx=True, ex=REPLY_TTL))

    def reply_state(self, comment_id: int) -> dict[str, Any] | None:
        raw = self.r.get(f"zkb:reply:{comment_id}")
        return json.loads(raw) if raw else None

    def finish_reply(self, comment_id: int, now: float) -> None:
        self.r.set(f"zkb:reply:{comment_id}", json.dumps({"state": "sent", "at": now}),
                   ex=REPLY_TTL)

    def abandon_reply(self, comment_id: int) -> None:
        """The send certainly did not happen (refused, throttled): allow a later attempt."""
        self.r.delete(f"zkb:reply:{comment_id}")

    def remember_sent_text(self, phone: str, text: str) -> None:
        """So the bridge recognises its own reply when Klaviyo echoes it back (A7)."""
        self.r.set(f"zkb:sent:{phone}:{_digest(text)}", 1, ex=ECHO_TTL)

    def sent_text_recently(self, phone: str, text: str) -> bool:
        return bool(self.r.exists(f"zkb:sent:{phone}:{_digest(text)}"))

    def note_done(self, key: str) -> bool:
        return bool(self.r.exists(f"zkb:note:{key}"))

    def mark_note_done(self, key: str) -> None:
        self.r.set(f"zkb:note:{key}", 1, ex=REPLY_TTL)

    def agent_email(self, user_id: int) -> str | None:
        raw = self.r.get(f"zkb:agent:{user_id}")
        return raw.decode() if raw is not None else None

    def cache_agent_email(self, user_id: int, email: str) -> None:
        self.r.set(f"zkb:agent:{user_id}", email, ex=AGENT_TTL)

    def cache_users(self, users: dict[int, dict[str, Any]]) -> None:
        """Users seen in sideloads: their emails serve the A3 check without another call."""
        if not users:
            return
        pipe = self.r.pipeline(transaction=False)
        for uid, user in users.items():
            pipe.set(f"zkb:agent:{uid}", user.get("email") or "", ex=AGENT_TTL)
        pipe.execute()

    # --- ticket metrics (M1) -----------------------------------------------------------
    def metric_done(self, ticket_id: int, metric: str) -> bool:
        return bool(self.r.exists(f"zkb:metric:{ticket_id}:{metric}"))

    def mark_metric_done(self, ticket_id: int, metric: str, how: str = "sent") -> None:
        self.r.set(f"zkb:metric:{ticket_id}:{metric}", how, ex=METRIC_TTL)

    def metrics_done(self, pairs: list[tuple[int, str]]) -> list[bool]:
        pipe = self.r.pipeline(transaction=False)
        for tid, metric in pairs:
            pipe.exists(f"zkb:metric:{tid}:{metric}")
        return [bool(x) for x in pipe.execute()]

    def get_value(self, key: str) -> str | None:
        raw = self.r.get(f"zkb:{key}")
        return raw.decode() if raw is not None else None

    def set_value(self, key: str, value: str) -> None:
        self.r.set(f"zkb:{key}", value)

    def ticket_conversation(self, ticket_id: int) -> tuple[str, str] | None:
        raw = self.r.get(f"zkb:ticketconv:{ticket_id}")
        if not raw:
            return None
        phone, _, brand = raw.decode().partition(":")
        return phone, brand

    # --- profile cache ----------------------------------------------------------------------
    def cached_profile(self, profile_id: str) -> Profile | None:
        raw = self.r.get(f"zkb:profile:{profile_id}")
        return Profile(**json.loads(raw)) if raw else None

    def cache_profile(self, profile: Profile) -> None:
        self.r.set(f"zkb:profile:{profile.id}", json.dumps(asdict(profile)), ex=PROFILE_TTL)

    # --- outcomes ---------------------------------------------------------------------------
    def count(self, kind: str, outcome: str, reason: str = "", amount: int = 1) -> None:
        self.r.hincrby("zkb:counters", f"{kind}:{outcome}:{reason}", amount)

    def counters(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.r.hgetall("zkb:counters").items()}

    def record_failure(self, ref: str, task: str, error: BaseException, attempts: int,
                       now: float) -> None:
        key = "zkb:failed"
        previous = self.r.hget(key, ref)
        first = json.loads(previous)["first_failure"] if previous else now
        source = ref.split(":", 1)[0]
        self.r.hset(key, ref, json.dumps({
            "ref": ref, "source": source, "task": task, "error": type(error).__name__,
            "message": str(error)[:500], "attempts": attempts, "first_failure": first,
            "last_failure": now}))

    def clear_failure(self, ref: str) -> None:
        """The job succeeded (e.g. after a replay): it leaves the failed-jobs list."""
        self.r.hdel("zkb:failed", ref)

    def failed(self) -> dict[str, dict[str, Any]]:
        return {k.decode(): json.loads(v) for k, v in self.r.hgetall("zkb:failed").items()}

    def failed_entry(self, ref: str) -> dict[str, Any] | None:
        raw = self.r.hget("zkb:failed", ref)
        return json.loads(raw) if raw else None

    def forget_failures(self, refs: list[str] | None = None) -> int:
        """Remove failed-job entries (all when `refs` is None); their events stay as they are."""
        if refs is None:
            count = self.r.hlen("zkb:failed")
            self.r.delete("zkb:failed")
            return int(count)
        return int(self.r.hdel("zkb:failed", *refs)) if refs else 0

    def event_fields(self, refs: list[str], *names: str) -> list[dict[str, str]]:
        """Some fields of several events in one round trip ({} for an event not stored)."""
        pipe = self.r.pipeline(transaction=False)
        for ref in refs:
            pipe.hmget(_ev(ref), *names)
        return [{n: v.decode() for n, v in zip(names, values, strict=True) if v is not None}
                for values in pipe.execute()]

    def reopen_event(self, ref: str, now: float) -> bool:
        """Replay: make a set-aside event runnable again, atomically. Its state becomes queued and
        its attempts 0; it takes back its place in its ordered queue (same receipt number and
        score, so it sorts where it was); its stored life starts again; and it joins the
        "enqueue not yet confirmed" set, so the sweep publishes it if the caller's publish
        fails. False if the event is no longer stored."""
        key = _ev(ref)
        seq, queue, score = self.r.hmget(key, "seq", "queue", "score")
        if not self.r.exists(key):
            return False
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(key, mapping={"state": "queued", "attempts": 0, "replayed_at": now})
        if queue and seq is not None:
            member = f"{int(seq):015d}|{ref}"
            pipe.zadd(_queue(queue.decode()), {member: float(score or 0)})
        pipe.expire(key, self.event_ttl)
        pipe.zadd("zkb:unqueued", {ref: now})
        pipe.execute()
        return True


def _ev(ref: str) -> str:
    return f"zkb:ev:{ref}"


def _squash(text: str) -> str:
    return " ".join(text.split())


def _digest(text: str) -> str:
    return hashlib.sha256(text.strip().encode()).hexdigest()[:32]


def _queue(queue: str) -> str:
    return f"zkb:convq:{queue}"


def _conv(kind: str, phone: str, brand: str) -> str:
    return f"zkb:{kind}:{phone}:{brand}"
