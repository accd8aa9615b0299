"""Machinery both sandbox APIs share: call counters, rate limits, fault injection, webhook outbox.

The sandbox imitates two vendors on one port. What is common to both is not vendor behaviour
but test plumbing, so it lives here once; the vendor-specific parts (auth, bodies, error
shapes, signing) live in `zendesk/` and `klaviyo/`. Nothing here is imported by `bridge/`
and nothing from `bridge/` is imported here (a test checks it): a helper shared by the bridge
and its stand-in would let a wrong implementation pass its own tests.
"""

from __future__ import annotations

import collections
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

log = logging.getLogger("sandbox")


class CallCounter:
    """Counts API calls per endpoint key ("zendesk PUT /api/v2/tickets/{id}") and 429s per API."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: collections.Counter[str] = collections.Counter()
        self.throttled: collections.Counter[str] = collections.Counter()

    def count(self, key: str) -> None:
        with self._lock:
            self.calls[key] += 1

    def count_429(self, api: str) -> None:
        with self._lock:
            self.throttled[api] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"calls": dict(self.calls), "throttled": dict(self.throttled)}

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.throttled.clear()


@dataclass
class Window:
    """A fixed window: at most `limit` calls per `seconds` (both vendors use fixed windows)."""

    limit: int
    seconds: float


class RateLimiter:
    """Fixed-window counters per (bucket name, window). `check` answers None or the seconds to wait.

    Buckets are named by the vendor modules, e.g. "zendesk", "zendesk:update_ticket",
    "klaviyo:conversation-messages". Limits are replaced at run time through the admin API.
    """

    def __init__(self, limits: dict[str, list[Window]] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self.limits: dict[str, list[Window]] = dict(limits or {})
        self._counts: dict[tuple[str, float, int], int] = {}
        self._clock = clock

    def set_limits(self, name: str, windows: list[Window]) -> None:
        with self._lock:
            self.limits[name] = windows

    def check(self, name: str) -> tuple[float | None, int, int]:
        """Consume one call from bucket `name`.

        Returns (retry_after_seconds or None, limit of the tightest window, remaining in it).
        A refused call does not consume quota (vendors count accepted calls).
        """
        now = self._clock()
        with self._lock:
            windows = self.limits.get(name, [])
            keys = []
            for w in windows:
                start = int(now // w.seconds)
                keys.append(((name, w.seconds, start), w, start))
            for key, w, start in keys:
                if self._counts.get(key, 0) >= w.limit:
                    retry_after = (start + 1) * w.seconds - now
                    return max(retry_after, 0.001), w.limit, 0
            remaining = None
            tight_limit = 0
            for key, w, _ in keys:
                self._counts[key] = self._counts.get(key, 0) + 1
                left = w.limit - self._counts[key]
                if remaining is None or left < remaining:
                    remaining, tight_limit = left, w.limit
            if len(self._counts) > 10_000:  # drop stale windows
                cutoff = now - 3600
                self._counts = {k: v for k, v in self._counts.items()
                                if (k[2] + 1) * k[1] >= cutoff}
            return None, tight_limit, remaining if remaining is not None else 0


@dataclass
class Faults:
    """Run-time fault injection for one API ("zendesk" or "klaviyo")."""

    error_rate: float = 0.0      # share of calls answered 500/503
    timeout_rate: float = 0.0    # share of calls that hang for `timeout_seconds` then answer 504
    # Share of calls that are carried out, then hang and answer 504 the same way: the change
    # is made but the caller never learns it (a real timeout can fall on either side).
    applied_timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    latency_ms: float = 0.0      # added to every call
    force_429: int = 0           # next N calls answered 429
    force_409: int = 0           # next N calls answered 409
    retry_after: int = 1         # Retry-After for forced 429s
    only: str = ""               # faults (not latency) hit only this endpoint key; "" = all


@dataclass
class FaultBoard:
    """Holds the faults of both APIs; `draw` decides what happens to one call."""

    by_api: dict[str, Faults] = field(default_factory=lambda: {"zendesk": Faults(),
                                                                  "klaviyo": Faults()})
    _lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=random.Random)

    def set(self, api: str, **values: Any) -> Faults:
        """Change some of `api`'s faults. `seed` (not a fault) restarts the draws' random
        sequence: the N-th call that draws (one the faults can hit) then meets the same roll
        in every run, so a test can know how many of its calls fail."""
        with self._lock:
            if "seed" in values:
                self.rng.seed(int(values.pop("seed")))
            current = self.by_api.setdefault(api, Faults())
            for k, v in values.items():
                if not hasattr(current, k):
                    raise ValueError(f"unknown fault setting {k!r}")
                setattr(current, k, type(getattr(current, k))(v))
            return current

    def clear(self, api: str | None = None) -> None:
        with self._lock:
            for name in ([api] if api else list(self.by_api)):
                self.by_api[name] = Faults()

    def draw(self, api: str, endpoint_key: str = "") -> tuple[str | None, Faults]:
        """Return (fault kind or None, settings).

        Kinds: "429", "409", "timeout", "applied_timeout" (carry the call out, then time out),
        "error". With `only` set, other endpoints' calls draw no fault."""
        with self._lock:
            f = self.by_api.setdefault(api, Faults())
            if f.only and endpoint_key != f.only:
                return None, f
            if f.force_429 > 0:
                f.force_429 -= 1
                return "429", f
            if f.force_409 > 0:
                f.force_409 -= 1
                return "409", f
            if not (f.timeout_rate or f.applied_timeout_rate or f.error_rate):
                return None, f        # no draw: other APIs' calls leave a seeded sequence alone
            roll = self.rng.random()
            if roll < f.timeout_rate:
                return "timeout", f
            roll -= f.timeout_rate
            if roll < f.applied_timeout_rate:
                return "applied_timeout", f
            if roll < f.applied_timeout_rate + f.error_rate:
                return "error", f
            return None, f


RetryPolicy = Callable[[requests.Response | None, BaseException | None, int], float | None]
Signer = Callable[[bytes], dict[str, str]]
"""Given the raw body, answer the headers to (re)compute for one attempt (e.g. a signature and
its timestamp). Vendors sign at send time, so a retry or a redelivery carries fresh values."""


@dataclass
class Delivery:
    """One outgoing webhook delivery and what became of it (inspected by tests).

    `headers` are the ones last sent (a signer refreshes part of them on every attempt);
    `policy` and `sign` are kept so that the delivery can be retried or redelivered later.
    """

    id: int
    source: str              # "zendesk" or "klaviyo"
    url: str
    headers: dict[str, str]
    body: bytes
    attempts: list[dict[str, Any]] = field(default_factory=list)
    status: str = "pending"  # pending / delivered / dropped
    policy: RetryPolicy | None = field(default=None, repr=False)
    sign: Signer | None = field(default=None, repr=False)
    redelivery_of: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "url": self.url, "headers": self.headers,
                "body": self.body.decode("utf-8"), "attempts": self.attempts,
                "status": self.status, "redelivery_of": self.redelivery_of}


def no_retry(resp: requests.Response | None, exc: BaseException | None,
             attempt: int) -> float | None:
    """A RetryPolicy that never retries."""
    return None


class Outbox:
    """Delivers webhooks from a background thread so API calls never wait on them.

    Each vendor module passes its own retry policy (`RetryPolicy`: given the response or the
    exception and the attempt number, answer seconds to wait before retrying, or None to give up),
    because Zendesk and Klaviyo retry differently.
    """

    def __init__(self, timeout: float = 10.0) -> None:
        self._q: queue.Queue[tuple[Delivery, RetryPolicy]] = queue.Queue()
        self._lock = threading.Lock()
        self.deliveries: list[Delivery] = []
        self.timeout = timeout
        self._session = requests.Session()
        self._session.trust_env = False  # webhook targets are given explicitly; ignore env proxies
        self._started = False
        self.paused = False

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        for i in range(4):
            threading.Thread(target=self._run, name=f"sandbox-outbox-{i}", daemon=True).start()

    def send(self, source: str, url: str, headers: dict[str, str], body: bytes,
             policy: RetryPolicy, *, sign: Signer | None = None,
             redelivery_of: int | None = None) -> Delivery:
        """Queue one delivery. `sign(body)`, if given, is called before every attempt and its
        headers are merged over `headers` (fresh signature timestamps on retries)."""
        with self._lock:
            d = Delivery(id=len(self.deliveries) + 1, source=source, url=url,
                         headers=dict(headers), body=body, policy=policy, sign=sign,
                         redelivery_of=redelivery_of)
            self.deliveries.append(d)
        self._q.put((d, policy))
        self.start()
        return d

    def get(self, delivery_id: int) -> Delivery | None:
        with self._lock:
            return next((d for d in self.deliveries if d.id == delivery_id), None)

    def redeliver(self, delivery_id: int) -> Delivery | None:
        """Send a past delivery again as a new one: same URL, body and policy, and (if it has
        a signer) a fresh signature. None if there is no such delivery."""
        old = self.get(delivery_id)
        if old is None:
            return None
        return self.send(old.source, old.url, old.headers, old.body,
                         old.policy or no_retry, sign=old.sign, redelivery_of=old.id)

    def pending(self) -> int:
        with self._lock:
            return sum(1 for d in self.deliveries if d.status == "pending")

    def reset(self) -> None:
        with self._lock:
            self.deliveries = []

    def _run(self) -> None:
        while True:
            d, policy = self._q.get()
            attempt = len(d.attempts) + 1
            resp, exc = None, None
            try:
                if d.sign is not None:
                    d.headers = {**d.headers, **d.sign(d.body)}
                resp = self._session.post(d.url, data=d.body, headers=d.headers,
                                          timeout=self.timeout)
            except requests.RequestException as e:  # timeouts, refused connections
                exc = e
            except Exception as e:  # a broken signer must not kill the worker thread
                log.exception("webhook %s: signing failed", d.id)
                exc = e
            d.attempts.append({"at": time.time(),
                               "status": resp.status_code if resp is not None else None,
                               "error": type(exc).__name__ if exc else None})
            if resp is not None and 200 <= resp.status_code < 300:
                d.status = "delivered"
                continue
            wait = policy(resp, exc, attempt)
            if wait is None:
                d.status = "dropped"
                log.warning("webhook %s to %s dropped after %d attempts", d.id, d.url, attempt)
                continue
            threading.Timer(wait, self._q.put, args=((d, policy),)).start()
