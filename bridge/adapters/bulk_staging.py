"""The bulk-write staging area (E6, #11): customer texts whose Zendesk write waits for a bulk
job, and the jobs in flight, in Redis so a dead worker loses nothing (E1).

- an item (`zkb:bulk:item:<ref>`, one per text or campaign note) holds what to write (`kind`:
  requester, ticket, comment or note, and its payload) and where it is: `staged` (waiting to
  be packed), `sent` (in a batch), `done` / `closed` / `gone` / `handback` (the job's answer
  for it, read by the item's own task), or `single` (its next write is a single call, never
  staged again);
- `zkb:bulk:staged:<kind>` orders the staged items by staging time;
- a batch (`zkb:bulk:batch:<id>`, listed in `zkb:bulk:batches`) is recorded with its items
  before its job is submitted and gains the job id once Zendesk answers; a batch without a job
  id after a crash is an unknown job (handlers/bulk_drain.py hands its items back).

Moving items between states is done in one MULTI each, so a crash leaves every item in exactly
one state. Keys and lifetimes are in redis_keys.py.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from bridge.adapters import redis_keys as keys
from bridge.domain.bulk import KINDS, TEXT_KINDS


class BulkStaging:
    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    # --- items (a text's side) ----------------------------------------------------------------
    def item(self, ref: str) -> dict[str, Any] | None:
        raw = self._r.get(keys.bulk_item(ref))
        return json.loads(raw) if raw else None

    def stage(self, ref: str, kind: str, payload: dict[str, Any], now: float) -> None:
        pipe = self._r.pipeline(transaction=True)
        self._put(pipe, {"ref": ref, "kind": kind, "payload": payload, "state": "staged",
                         "at": now})
        pipe.zadd(keys.bulk_staged(kind), {ref: now})
        pipe.execute()

    def set_single(self, ref: str) -> None:
        """The text's next write goes out as a single call (after a hand-back)."""
        self._put(self._r, {"ref": ref, "state": "single"})

    def hand_back(self, refs: list[str], kind: str) -> None:
        """Staged items whose next write is a single call after all (a job would cost more)."""
        pipe = self._r.pipeline(transaction=True)
        for ref in refs:
            self._put(pipe, {"ref": ref, "state": "single"})
        pipe.zrem(keys.bulk_staged(kind), *refs)
        pipe.execute()

    def clear(self, ref: str) -> None:
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(keys.bulk_item(ref))
        for kind in KINDS:
            pipe.zrem(keys.bulk_staged(kind), ref)
        pipe.execute()

    def backlog(self) -> int:
        """Items waiting to be packed (campaign notes too) plus batches in flight (0: no
        backlog)."""
        pipe = self._r.pipeline(transaction=False)
        for kind in KINDS:
            pipe.zcard(keys.bulk_staged(kind))
        pipe.zcard(keys.BULK_BATCHES)
        return sum(int(n) for n in pipe.execute())

    def waiting(self) -> int:
        """Customer texts waiting to be packed (batches in flight and campaign notes not
        counted: a campaign's notes must not push a customer's text into a job)."""
        pipe = self._r.pipeline(transaction=False)
        for kind in TEXT_KINDS:
            pipe.zcard(keys.bulk_staged(kind))
        return sum(int(n) for n in pipe.execute())

    def texts_in_bulk(self) -> bool:
        """Customer texts wait to be packed, or a job of them is in flight (a campaign notes'
        job alone is not: notes never push a customer's text into a job)."""
        return self.waiting() > 0 or any(b.get("kind") in TEXT_KINDS for b in self.batches())

    def summary(self, now: float) -> dict[str, tuple[int, float | None]]:
        """For /ops: per kind, (items waiting to be packed, seconds the oldest has waited), and
        under "jobs" the batches in flight and the oldest's age (None: nothing waits)."""
        pipe = self._r.pipeline(transaction=False)
        names = [*KINDS, "jobs"]
        for kind in KINDS:
            pipe.zcard(keys.bulk_staged(kind))
            pipe.zrange(keys.bulk_staged(kind), 0, 0, withscores=True)
        pipe.zcard(keys.BULK_BATCHES)
        pipe.zrange(keys.BULK_BATCHES, 0, 0, withscores=True)
        out = pipe.execute()
        return {name: (int(out[2 * i]), now - out[2 * i + 1][0][1] if out[2 * i + 1] else None)
                for i, name in enumerate(names)}

    # --- batches (the drainer's side) ---------------------------------------------------------
    def staged(self, kind: str, limit: int) -> list[dict[str, Any]]:
        """The oldest staged items of a kind (entries whose item expired are dropped)."""
        refs = [r.decode() for r in self._r.zrange(keys.bulk_staged(kind), 0, limit - 1)]
        if not refs:
            return []
        raws = self._r.mget([keys.bulk_item(r) for r in refs])
        items = [json.loads(raw) for raw in raws if raw]
        stale = [r for r, raw in zip(refs, raws, strict=True) if not raw]
        if stale:
            self._r.zrem(keys.bulk_staged(kind), *stale)
        return [i for i in items if i.get("state") == "staged"]

    def open_batch(self, batch_id: str, kind: str, items: list[dict[str, Any]],
                   now: float) -> dict[str, Any] | None:
        """Record the batch and move its items from staged to sent, before the submit. None
        when any of them is no longer staged (a second drainer, whose run overlapped this one
        after a lock ran out, took it first): each item goes into one batch only, so a text is
        never written twice by two jobs. The items are WATCHed: a concurrent change aborts."""
        batch = {"id": batch_id, "kind": kind, "refs": [i["ref"] for i in items], "at": now,
                 "job_id": None}
        item_keys = [keys.bulk_item(ref) for ref in batch["refs"]]
        with self._r.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(*item_keys)
                if any(not raw or json.loads(raw).get("state") != "staged"
                       for raw in pipe.mget(item_keys)):
                    return None
                pipe.multi()
                pipe.set(keys.bulk_batch(batch_id), json.dumps(batch), ex=keys.BULK_TTL)
                pipe.zadd(keys.BULK_BATCHES, {batch_id: now})
                pipe.zrem(keys.bulk_staged(kind), *batch["refs"])
                for item in items:
                    self._put(pipe, {**item, "state": "sent", "batch": batch_id,
                                     "sent_at": now})
                pipe.execute()
            except redis.WatchError:
                return None
        return batch

    def set_job(self, batch: dict[str, Any], job_id: str) -> None:
        self._r.set(keys.bulk_batch(batch["id"]), json.dumps({**batch, "job_id": job_id}),
                    ex=keys.BULK_TTL)

    def looked_at(self, batch: dict[str, Any], now: float) -> None:
        """The job was asked about at `now` and is not finished (handlers/bulk_drain.look_at)."""
        self._r.set(keys.bulk_batch(batch["id"]), json.dumps({**batch, "looked": now}),
                    ex=keys.BULK_TTL)

    def cancel_batch(self, batch: dict[str, Any], items: list[dict[str, Any]]) -> None:
        """Nothing was submitted (a budget, the job limit): the items are staged again."""
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(keys.bulk_batch(batch["id"]))
        pipe.zrem(keys.BULK_BATCHES, batch["id"])
        for item in items:
            self._put(pipe, {**item, "state": "staged", "batch": None})
            pipe.zadd(keys.bulk_staged(item["kind"]), {item["ref"]: item["at"]})
        pipe.execute()

    def batches(self) -> list[dict[str, Any]]:
        ids = [i.decode() for i in self._r.zrange(keys.BULK_BATCHES, 0, -1)]
        if not ids:
            return []
        raws = self._r.mget([keys.bulk_batch(i) for i in ids])
        lost = [i for i, raw in zip(ids, raws, strict=True) if not raw]
        if lost:
            self._r.zrem(keys.BULK_BATCHES, *lost)
        return [json.loads(raw) for raw in raws if raw]

    def items(self, refs: list[str]) -> list[dict[str, Any] | None]:
        if not refs:
            return []
        return [json.loads(raw) if raw else None
                for raw in self._r.mget([keys.bulk_item(r) for r in refs])]

    def settle_batch(self, batch: dict[str, Any], answers: dict[str, dict[str, Any]],
                     now: float | None = None) -> None:
        """The job's answer for each item (`{"state": ..., "result": {...}}`), and the batch
        closed, in one MULTI. `now`: when the answer was read (kept on the item for the log
        line that says where a staged text's time went)."""
        pipe = self._r.pipeline(transaction=True)
        for item in self.items(list(answers)):
            if item is not None and item.get("batch") == batch["id"]:
                self._put(pipe, {**item, **answers[item["ref"]], "answered_at": now})
        pipe.delete(keys.bulk_batch(batch["id"]))
        pipe.zrem(keys.BULK_BATCHES, batch["id"])
        pipe.execute()

    def lock(self, token: str, seconds: int = keys.BULK_LOCK_TTL) -> bool:
        """One drainer at a time (a dead one's lock runs out)."""
        return bool(self._r.set(keys.BULK_LOCK, token, nx=True, ex=seconds))

    def unlock(self, token: str) -> None:
        if self._r.get(keys.BULK_LOCK) == token.encode():
            self._r.delete(keys.BULK_LOCK)

    def _put(self, pipe: Any, item: dict[str, Any]) -> None:
        pipe.set(keys.bulk_item(item["ref"]), json.dumps(item), ex=keys.BULK_TTL)
