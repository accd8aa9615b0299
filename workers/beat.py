"""What beat runs besides Celery's defaults (celery_app.py sets `beat_scheduler`):

- `OneBeat`: only the beat holding a lease in Redis publishes; a second beat started by mistake
  (or as a standby) waits, and takes over within the lease's 30 s if the first one dies. Two
  beats never both publish the sweeps.
- `WhenDue`: `bridge.release_due`'s schedule: due only when a job parked in `zkb:due` (a wait
  past the safe countdown, #14) is due.
- `WhenParked`: the metrics flush's schedule. It is checked every few seconds but due only when
  metric events wait for the bulk endpoint, and otherwise every 5 minutes (to put back a batch a
  dead flusher left in flight), so Flower's task list is not a wall of no-op flushes.
- `WhenStaged`: the bulk drainer's schedule (E6): due every second while texts wait to be packed
  into bulk jobs, every `run_every` while only jobs are in flight, never otherwise.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import timedelta
from typing import Any

import redis
from celery.beat import PersistentScheduler
from celery.schedules import schedstate, schedule
from celery.utils.time import remaining

from bridge.adapters.beat_lock import BeatLease
from bridge.adapters.redis_keys import BEAT_LEASE_TTL
from workers.release import RELEASE_AHEAD

log = logging.getLogger("zkbridge.beat")
STANDBY_POLL = 5.0                   # a waiting beat asks for the lease this often
RENEW_EVERY = BEAT_LEASE_TTL / 3     # the holder renews well before the lease runs out
FALLBACK_SECONDS = 300.0


def _store() -> Any:
    from workers import deps  # noqa: PLC0415 - builds Settings: only inside beat

    return deps.store()


class OneBeat(PersistentScheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.holding = False
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if not self._hold():
            return STANDBY_POLL
        return min(super().tick(*args, **kwargs), RENEW_EVERY)

    def _hold(self) -> bool:
        try:
            held = BeatLease.of(_store()).hold(self.owner)
        except redis.RedisError:
            held = False     # Redis away: nothing could be published anyway
        if held != self.holding:
            log.warning("beat %s: %s", self.owner, "publishing (holds the beat lease)" if held
                        else "standing by (another beat holds the lease)")
            self.holding = held
        return held

    def close(self) -> None:
        if self.holding:
            try:
                BeatLease.of(_store()).release(self.owner)
            except redis.RedisError:
                pass
        super().close()


def _parked() -> bool:
    try:
        return _store().metric_buffer.waiting() > 0
    except redis.RedisError:
        return True          # let the task run and meet the error (it retries)


class WhenParked(schedule):
    def __init__(self, run_every: float = 5.0, fallback: float = FALLBACK_SECONDS,
                 **kwargs: Any) -> None:
        super().__init__(run_every, **kwargs)
        self.fallback = timedelta(seconds=fallback)

    def is_due(self, last_run_at: Any) -> schedstate:
        due, next_check = super().is_due(last_run_at)
        if not due:
            return schedstate(False, next_check)
        every = self.run_every.total_seconds()
        overdue = remaining(self.maybe_make_aware(last_run_at), self.fallback,
                            self.maybe_make_aware(self.now())).total_seconds() <= 0
        return schedstate(overdue or _parked(), every)

    def __reduce__(self) -> tuple[type, tuple[float, float]]:
        return self.__class__, (self.run_every.total_seconds(), self.fallback.total_seconds())


def _next_due() -> float | None:
    try:
        return _store().due.next_due()
    except redis.RedisError:
        return 0.0           # let the task run and meet the error


class WhenDue(schedule):
    """`bridge.release_due`'s schedule: checked every second, due only when a job parked in
    `zkb:due` is due within RELEASE_AHEAD (so Flower shows no stream of no-op releases)."""

    def is_due(self, last_run_at: Any) -> schedstate:
        due, next_check = super().is_due(last_run_at)
        if not due:
            return schedstate(False, next_check)
        first = _next_due()
        every = self.run_every.total_seconds()
        return schedstate(first is not None and first <= time.time() + RELEASE_AHEAD, every)

    def __reduce__(self) -> tuple[type, tuple[float]]:
        return self.__class__, (self.run_every.total_seconds(),)


# E6: while texts wait to be packed, the drainer runs this often (a staged text waits at most
# about this long for its job; a run with no job due a look and nothing to pack makes no call).
PACK_EVERY = 1.0


def _bulk() -> tuple[int, int]:
    """(texts waiting to be packed, those plus the jobs in flight)."""
    try:
        bulk = _store().bulk
        return bulk.waiting(), bulk.backlog()
    except redis.RedisError:
        return 1, 1          # let the task run and meet the error


class WhenStaged(schedule):
    """`bridge.bulk_writes`' schedule (E6): checked every `pack_every` seconds; due every
    `pack_every` while texts wait to be packed into a bulk job, every `run_every` while only
    jobs are in flight (the drainer follows them), never when neither."""

    def __init__(self, run_every: float = 2.0, pack_every: float = PACK_EVERY,
                 **kwargs: Any) -> None:
        super().__init__(run_every, **kwargs)
        self.pack_every = pack_every

    def is_due(self, last_run_at: Any) -> schedstate:
        waiting, backlog = _bulk()
        if backlog == 0:
            return schedstate(False, self.pack_every)
        every = self.pack_every if waiting else self.run_every.total_seconds()
        left = remaining(self.maybe_make_aware(last_run_at), timedelta(seconds=every),
                         self.maybe_make_aware(self.now())).total_seconds()
        if left > 0:
            return schedstate(False, min(left, self.pack_every))
        return schedstate(True, self.pack_every)

    def __reduce__(self) -> tuple[type, tuple[float, float]]:
        return self.__class__, (self.run_every.total_seconds(), self.pack_every)
