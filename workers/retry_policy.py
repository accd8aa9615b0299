"""E2: which failures a task tries again, why (the `zkb:m:retries` label) and after how long.

Pure: the error and the task's Celery retries in, a `Retry` (or None: the task fails) out.
Jitter comes from `uniform`, which tests replace. Countdowns stay under MAX_COUNTDOWN, itself
far below the broker's visibility timeout (a countdown past it is delivered twice).

| error                                 | why           | countdown (s)                          |
|---------------------------------------|---------------|----------------------------------------|
| QueueBusy (a peer holds the queue)    | queue_busy    | min(30, 2^min(retries, 5)) x U(.5, 1)  |
| Deferred (not now: quota, a peer)     | deferred      | retry_after + U(0, .2)                 |
| RateLimited, local (our own budget)   | budget        | retry_after + U(0, 1)                  |
| RateLimited (429 upstream)            | rate_limited  | retry_after + U(0, 1)                  |
| FailedAttempt with a Retryable cause  | retryable     | backoff(the event's attempts - 1)      |
| FailedAttempt with another cause      | -             | none: the task fails with the cause    |
| Retryable (timeouts, 5xx, 409)        | retryable     | backoff(the task's Celery retries)     |
| anything else                         | -             | none: the task fails                   |

backoff(n) = U(0.5, min(120, 2^min(n, 10))): exponential with full jitter. Every countdown is
then capped at MAX_COUNTDOWN.

A wait (deferred, budget, rate_limited) longer than MAX_COUNTDOWN is never a countdown (nor
polled every MAX_COUNTDOWN): `park_for` says so, and the task parks the ref in `zkb:due` for
beat to publish when due (adapters/due_refs.py). So is a wait of another event than the
task's own (the head of its ordered queue): the head is woken once, the other tasks end; and
so is a wait that something else ends (`Deferred.woken`: a text staged for a bulk job, which
the drainer wakes when its job answers): a countdown would only poll it, and thousands of
countdowns held by the worker during a flood starved its other queues.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from bridge.errors import Deferred, FailedAttempt, QueueBusy, RateLimited, Retryable

MAX_COUNTDOWN = 120.0
Uniform = Callable[[float, float], float]


@dataclass(frozen=True)
class Retry:
    why: str                 # queue_busy | deferred | budget | rate_limited | retryable
    countdown: float         # seconds, <= MAX_COUNTDOWN
    exc: BaseException       # what Celery records (a FailedAttempt's cause)


def retry_for(error: BaseException, retries: int,
              uniform: Uniform = random.uniform) -> Retry | None:
    """The retry a task asks for after `error`, or None when the task should fail."""
    why = why_for(error)
    if why is None:
        return None
    exc = error.cause if isinstance(error, FailedAttempt) else error
    return Retry(why, countdown_for(error, retries, uniform), exc)


def why_for(error: BaseException) -> str | None:
    """The retry's label, or None for an error that is not retried."""
    if isinstance(error, QueueBusy):
        return "queue_busy"
    if isinstance(error, Deferred):
        return "deferred"
    if isinstance(error, RateLimited):
        return "budget" if error.local else "rate_limited"
    if isinstance(error, FailedAttempt):
        return "retryable" if isinstance(error.cause, Retryable) else None
    if isinstance(error, Retryable):
        return "retryable"
    return None


def countdown_for(error: BaseException, retries: int,
                  uniform: Uniform = random.uniform) -> float:
    """Seconds before the retry (see the table above); call only when `why_for` is not None.

    A FailedAttempt carries the event's failed attempts: its backoff grows with those, not with
    the task's retries (most of which are waits for a budget or a busy queue)."""
    if isinstance(error, QueueBusy):
        # The holder applies our event; we only check back in case it dies, less and less often.
        seconds = min(30.0, 2.0 ** min(retries, 5)) * uniform(0.5, 1.0)
    elif isinstance(error, Deferred):
        seconds = error.retry_after + uniform(0, 0.2)
    elif isinstance(error, RateLimited):
        seconds = error.retry_after + uniform(0, 1)
    elif isinstance(error, FailedAttempt):
        seconds = backoff(error.attempts - 1, uniform)
    else:
        seconds = backoff(retries, uniform)
    return min(MAX_COUNTDOWN, seconds)


def park_for(error: BaseException, own_ref: str | None) -> tuple[str, float] | None:
    """(ref, seconds) to park instead of a countdown retry, or None (see the docstring)."""
    if not isinstance(error, Deferred | RateLimited):
        return None
    waiting = getattr(error, "ref", None) or own_ref
    if waiting is None:
        return None
    if error.retry_after > MAX_COUNTDOWN or waiting != own_ref or getattr(error, "woken", False):
        return waiting, error.retry_after
    return None


def backoff(n: int, uniform: Uniform = random.uniform) -> float:
    """Exponential with full jitter, capped below the visibility timeout."""
    return uniform(0.5, min(MAX_COUNTDOWN, 2 ** min(n, 10)))
