"""Running events one at a time, in order, per queue: a conversation's texts (S7), a ticket's
agent replies (A6). Shared by every handler whose effects must keep an order.

The receiver places an event in its queue (a Redis zset) when it acknowledges it. The task of
any event of that queue calls `run_event`, which drains the queue head-first under the queue's
lock. What each event does is the handler's `process` function; this module owns the
bookkeeping that must be the same everywhere:

- an event is marked done or dropped only after `process` returns (crash = run again);
- `Deferred` (our own quota, a peer still sending) and upstream 429s wait without using up the
  event's attempts; other errors count, and an event that fails permanently or `max_attempts`
  times is set aside in failed jobs so the events behind it are not blocked forever;
- every outcome is counted, and an applied event's time since receipt is observed in its
  kind's latency histogram (adapters/meters.py, shared by all processes for /metrics).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bridge.domain.brand_scope import source_of
from bridge.errors import Deferred, FailedAttempt, Permanent, QueueBusy, RateLimited
from bridge.handlers.outcome_log import log_outcome
from bridge.ports import StorePort

FINAL_STATES = ("done", "dropped", "failed")
LOCK_SECONDS = 45   # held longer only by extending after each event; a dead holder blocks <= 45 s


@dataclass(frozen=True)
class Done:
    """What `process` did: outcome 'applied' or 'dropped' (with a reason), fields for the log."""

    outcome: str = "applied"
    reason: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


Process = Callable[[str, dict[str, Any]], Done]


@dataclass
class Runner:
    store: StorePort
    kind: str                      # counter and log kind, e.g. "inbound_sms"
    source: str                    # "klaviyo" | "zendesk"
    task: str                      # task name, for failed jobs
    process: Process
    max_attempts: int = 8
    settle_seconds: float = 0.0
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    def run_event(self, ref: str) -> str:
        """Make sure this event, and every event before it in its queue, is processed."""
        if source_of(ref) != self.source:
            raise RuntimeError(f"{self.kind} runner given a {source_of(ref)} event")
        event = self.store.events.load_event(ref)
        if event is None:
            self.store.outcomes.count(self.kind, "dropped", "event_missing")
            log_outcome(ref, self.source, "dropped", reason="event_missing")
            return "dropped:event_missing"
        if event.get("state") in FINAL_STATES:
            return "already_done"
        queue = event.get("queue")
        if not queue:
            return self._process(ref, event, None, None)
        self._drain(queue)
        return "done"

    def _drain(self, queue: str) -> None:
        while True:
            lock = self.store.queues.queue_lock(queue, LOCK_SECONDS)
            if not lock.acquire():
                raise QueueBusy("queue busy")
            try:
                while (member := self.store.queues.head(queue)) is not None:
                    self._process_head(queue, member)
                    lock.extend(LOCK_SECONDS, replace_ttl=True)
            finally:
                try:
                    lock.release()
                except Exception:  # noqa: BLE001 - expired lock: nothing to release
                    pass
            if self.store.queues.head(queue) is None:
                return

    def _process_head(self, queue: str, member: str) -> None:
        ref = member.split("|", 1)[1]
        if source_of(ref) != self.source:
            # A queue holds one handler's events; never let another handler "drop" them.
            raise RuntimeError(f"{self.kind} runner reached a {source_of(ref)} queue")
        event = self.store.events.load_event(ref)
        if event is None or event.get("state") in FINAL_STATES:
            self.store.queues.remove_pending(queue, member)
            return
        waited = self.clock() - float(event.get("received_at") or 0)
        if waited < self.settle_seconds:
            # Give events sent just before this one (in flight in other deliveries) time to land.
            self.sleep(self.settle_seconds - waited)
            if self.store.queues.head(queue) != member:
                return
        try:
            self._process(ref, event, queue, member)
        except Deferred as e:
            e.ref = e.ref or ref       # the head waits: the task layer wakes it, not every task
            raise

    def _process(self, ref: str, event: dict[str, Any], queue: str | None,
                 member: str | None) -> str:
        try:
            done = self.process(ref, event)
        except (Deferred, RateLimited):
            raise
        except Permanent as e:
            self._set_aside(ref, queue, member, e, self.store.events.bump_attempts(ref, str(e)))
            return "failed"
        except Exception as e:
            attempts = self.store.events.bump_attempts(ref, str(e))
            if attempts < self.max_attempts:
                raise FailedAttempt(e, attempts) from e
            self._set_aside(ref, queue, member, e, attempts)
            return "failed"
        state = "done" if done.outcome == "applied" else "dropped"
        # id + outcome only from now on, for the dedup window (E6)
        self.store.events.settle_event(ref, state, done.outcome, done.reason, self.clock())
        if "attempts" in event:   # it failed before (or was replayed): off the failed list
            self.store.outcomes.clear_failure(ref)
        if member is not None and queue is not None:
            self.store.queues.remove_pending(queue, member)
        latency = self.clock() - float(event.get("received_at") or self.clock())
        self.store.outcomes.record_outcome(self.kind, "processed" if state == "done" else "dropped",
                       done.reason, latency if state == "done" else None)
        log_outcome(ref, self.source, done.outcome, reason=done.reason or None,
                    latency=latency, **done.fields)
        return f"{done.outcome}:{done.reason}" if done.reason else done.outcome

    def _set_aside(self, ref: str, queue: str | None, member: str | None, error: Exception,
                   attempts: int) -> None:
        self.store.events.update_event(ref, state="failed")
        self.store.outcomes.record_failure(ref, self.task, error, attempts, self.clock())
        if queue is not None and member is not None:
            self.store.queues.remove_pending(queue, member)
        self.store.outcomes.count(self.kind, "failed", type(error).__name__)
        log_outcome(ref, self.source, "failed", reason=type(error).__name__, attempts=attempts)
