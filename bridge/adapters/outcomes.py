"""Outcomes: counters by kind/outcome/reason (the ops page), the meters behind /metrics, and
failed jobs (E2). Every process adds to the same Redis hashes, so the fleet is seen as one."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

import redis

from bridge.adapters import meters
from bridge.adapters import redis_keys as keys
from bridge.adapters.http import Observer
from bridge.domain.brand_scope import current, source_of


class Outcomes:
    def __init__(self, client: redis.Redis) -> None:
        self._r = client

    def count(self, kind: str, outcome: str, reason: str = "", amount: int = 1) -> None:
        """Add to an outcome counter of the brand in scope (meters.counter_field)."""
        self._r.hincrby(keys.COUNTERS, meters.counter_field(kind, outcome, reason), amount)

    def counters(self, brand: str | None = None) -> dict[str, int]:
        """Every brand's counters as stored (None), or one brand's as `<kind>:<outcome>:
        <reason>` (the ops page's brand selector)."""
        raw = {k.decode(): int(v) for k, v in self._r.hgetall(keys.COUNTERS).items()}
        return raw if brand is None else meters.by_brand(raw).get(brand, {})

    def record_outcome(self, kind: str, outcome: str, reason: str = "",
                       latency: float | None = None) -> None:
        """Count an outcome and observe its latency (see meters.record_outcome)."""
        meters.record_outcome(self._r, kind, outcome, reason, latency)

    def count_retry(self, task: str, why: str) -> None:
        meters.count_retry(self._r, task, why)

    def upstream_observer(self) -> Observer:
        """The `observe` hook of the HTTP funnel: every upstream attempt counted."""
        return meters.upstream_observer(self._r)

    def readings(self, queues: Iterable[str]) -> meters.Readings:
        """Everything a /metrics scrape needs, in one round trip."""
        return meters.read(self._r, queues)

    def queue_depths(self, queues: tuple[str, ...]) -> dict[str, int]:
        """Tasks waiting per broker queue, plus those held by workers and not yet acked."""
        pipe = self._r.pipeline(transaction=False)
        for q in queues:
            pipe.llen(q)
        pipe.hlen(keys.UNACKED)
        values = pipe.execute()
        return {**dict(zip(queues, values, strict=False)),
                "unacked (held by workers)": values[-1]}

    def queue_ages(self, queues: tuple[str, ...], now: float) -> dict[str, float | None]:
        """Seconds the oldest waiting message of each queue has waited (None: empty, or a
        message that says nothing of its age). kombu pushes on the left and pops on the right,
        so the oldest is the last; its `zkb_sent_at` header (workers/queues.py), else the
        receipt time of the event it carries."""
        pipe = self._r.pipeline(transaction=False)
        for q in queues:
            pipe.lindex(q, -1)
        return {q: _age(self._r, raw, now) for q, raw in zip(queues, pipe.execute(), strict=True)}

    # --- failed jobs (E2) ---------------------------------------------------------------------
    def prune_failed(self, batch: int = 1000) -> int:
        """Forget failed jobs whose event has expired (EVENT_TTL_SECONDS): nothing is left to
        replay. One HSCAN batch per call, from a cursor kept in Redis (the sweep calls it).
        Metric failures are kept: their events live in their own hash."""
        cursor = int(self._r.get(keys.FAILED_PRUNE_CURSOR) or 0)
        cursor, fields = self._r.hscan(keys.FAILED, cursor, count=batch)
        refs = [f.decode() for f in fields
                if source_of(f.decode()) in ("klaviyo", "zendesk") and ":" in f.decode()]
        pipe = self._r.pipeline(transaction=False)
        for ref in refs:
            pipe.exists(keys.event(ref))
        gone = [ref for ref, n in zip(refs, pipe.execute(), strict=True) if not n]
        if gone:
            self._r.hdel(keys.FAILED, *gone)
        self._r.set(keys.FAILED_PRUNE_CURSOR, cursor)
        return len(gone)

    def record_failure(self, ref: str, task: str, error: BaseException, attempts: int,
                       now: float) -> None:
        """Set a job aside; `replayable` (from the error class) says whether replay is safe."""
        previous = self._r.hget(keys.FAILED, ref)
        first = json.loads(previous)["first_failure"] if previous else now
        self._r.hset(keys.FAILED, ref, json.dumps({
            "ref": ref, "source": source_of(ref), "brand": current(), "task": task,
            "error": type(error).__name__,
            "message": str(error)[:500], "attempts": attempts, "first_failure": first,
            "last_failure": now, "replayable": bool(getattr(error, "replayable", True))}))

    def clear_failure(self, ref: str) -> None:
        """The job succeeded (e.g. after a replay): it leaves the failed-jobs list."""
        self._r.hdel(keys.FAILED, ref)

    def failed(self) -> dict[str, dict[str, Any]]:
        return {k.decode(): json.loads(v) for k, v in self._r.hgetall(keys.FAILED).items()}

    def failed_entry(self, ref: str) -> dict[str, Any] | None:
        raw = self._r.hget(keys.FAILED, ref)
        return json.loads(raw) if raw else None

    def forget_failures(self, refs: list[str] | None = None) -> int:
        """Remove failed-job entries (all when `refs` is None); their events stay as they are."""
        if refs is None:
            count = self._r.hlen(keys.FAILED)
            self._r.delete(keys.FAILED)
            return int(count)
        return int(self._r.hdel(keys.FAILED, *refs)) if refs else 0

    # --- /ops notices -------------------------------------------------------------------------
    def put_notice(self, notice: str, lines: list[str]) -> None:
        self._r.set(keys.ops_notice(notice), json.dumps(lines), ex=keys.NOTICE_TTL)

    def notice(self, notice: str) -> list[str] | None:
        raw = self._r.get(keys.ops_notice(notice))
        return json.loads(raw) if raw else None


def _age(client: redis.Redis, raw: bytes | None, now: float) -> float | None:
    if raw is None:
        return None
    try:
        message = json.loads(raw)
        sent = (message.get("headers") or {}).get("zkb_sent_at")
        if sent is None:
            args = json.loads(base64.b64decode(message["body"]))[0]
            sent = client.hget(keys.event(str(args[0])), "received_at") if args else None
        return max(0.0, now - float(sent)) if sent is not None else None
    except (ValueError, KeyError, TypeError, IndexError):
        return None
