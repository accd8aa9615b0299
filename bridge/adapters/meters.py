"""Metrics kept in Redis, so that /metrics sees the whole fleet.

The receiver runs as several gunicorn processes and the workers as several Celery processes;
an in-process counter would show only whichever process answered the scrape, and would reset
on every restart. So every process adds to hashes in Redis (one pipelined round trip per
outcome, one command per upstream call), and the scrape reads them back.

- `zkb:counters`     outcomes, `<kind>:<outcome>:<reason>` (event_log.py and outcomes.py); a
                     brand other than the default writes `<kind>@<brand>:...` (E7, #16: the
                     `brand` label of /metrics), so every field written before brands existed
                     reads as the default brand's and none is renamed
- `zkb:m:upstream`   upstream attempts, `<api>|<endpoint class>|<status class>`
- `zkb:m:retries`    task retries, `<task>|<why>`
- `zkb:m:latency`    ingest → applied, `<kind>|<bucket upper bound>` (per bucket, not
                     cumulative: one increment per observation) and `<kind>|sum`

Writers swallow Redis errors: losing a metric must never turn into a failed job.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import redis

from bridge.adapters.redis_keys import COUNTERS, FAILED, LATENCY, RETRIES, UNACKED, UPSTREAM
from bridge.domain.brand_scope import DEFAULT, current

# Seconds. An event waits INBOUND_SETTLE_MS first; a retried one waits minutes.
LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, math.inf)


def status_class(status: int | None) -> str:
    """'2xx', '4xx', '5xx', … with 429 kept apart (the number E3 is about); 'error' = no answer."""
    if status is None:
        return "error"
    if status == 429:
        return "429"
    return f"{status // 100}xx"


def bucket_of(seconds: float) -> str:
    """The label of the smallest bucket that holds `seconds` (Prometheus `le`)."""
    for bound in LATENCY_BUCKETS:
        if seconds <= bound:
            return _le(bound)
    return "+Inf"


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def counter_field(kind: str, outcome: str, reason: str = "", brand: str | None = None) -> str:
    """The `zkb:counters` field of an outcome of `brand` (None: the brand in scope). The
    default brand's is today's `<kind>:<outcome>:<reason>`; another's puts `@<brand>` after
    the kind, as event refs do (`klaviyo@shop2:...`), since a kind never holds `@` or `:`."""
    brand = current() if brand is None else brand
    head = kind if brand == DEFAULT else f"{kind}@{brand}"
    return f"{head}:{outcome}:{reason}"


def split_counter(field: str) -> tuple[str, str, str, str]:
    """(brand, kind, outcome, reason) of a `zkb:counters` field; the reason may hold `:`
    (`topic:...`). A field without a brand is the default brand's (written before E7)."""
    head, _, rest = field.partition(":")
    outcome, _, reason = rest.partition(":")
    kind, _, brand = head.partition("@")
    return brand or DEFAULT, kind, outcome, reason


def by_brand(counters: dict[str, int]) -> dict[str, dict[str, int]]:
    """{brand: {`<kind>:<outcome>:<reason>`: n}}: each brand's counters as the single-brand
    readers (the ops page, the metric families) know them."""
    out: dict[str, dict[str, int]] = {}
    for key, value in counters.items():
        brand, kind, outcome, reason = split_counter(key)
        plain = f"{kind}:{outcome}:{reason}"
        mine = out.setdefault(brand, {})
        mine[plain] = mine.get(plain, 0) + value
    return out


def upstream_observer(client: redis.Redis) -> Callable[[str, str, int | None], None]:
    """The `observe` hook of `http.Funnel`: count every attempt by API, endpoint and status."""
    def observe(api: str, endpoint: str, status: int | None) -> None:
        try:
            client.hincrby(UPSTREAM, f"{api}|{endpoint}|{status_class(status)}", 1)
        except redis.RedisError:
            pass
    return observe


def count_retry(client: redis.Redis, task: str, why: str) -> None:
    try:
        client.hincrby(RETRIES, f"{task}|{why}", 1)
    except redis.RedisError:
        pass


def record_outcome(client: redis.Redis, kind: str, outcome: str, reason: str = "",
                   latency: float | None = None) -> None:
    """Count an outcome and, with `latency`, observe it in the kind's histogram: one round
    trip. The counter is the one the ops page shows, so its error is not swallowed."""
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(COUNTERS, counter_field(kind, outcome, reason), 1)
    if latency is not None:
        latency = max(0.0, latency)
        pipe.hincrby(LATENCY, f"{kind}|{bucket_of(latency)}", 1)
        pipe.hincrbyfloat(LATENCY, f"{kind}|sum", latency)
    pipe.execute()


@dataclass(frozen=True)
class Histogram:
    buckets: list[tuple[str, int]]     # cumulative, ascending, ending with "+Inf"
    total: float
    count: int


@dataclass(frozen=True)
class Readings:
    """Everything a scrape needs, read in one round trip."""

    counters: dict[str, int]
    upstream: dict[tuple[str, str, str], int]
    retries: dict[tuple[str, str], int]
    latency: dict[str, Histogram]
    queues: dict[str, int]
    unacked: int
    failed: int


def read(client: redis.Redis, queues: Iterable[str]) -> Readings:
    queues = list(queues)
    pipe = client.pipeline(transaction=False)
    for key in (COUNTERS, UPSTREAM, RETRIES, LATENCY):
        pipe.hgetall(key)
    for q in queues:
        pipe.llen(q)
    pipe.hlen(UNACKED)
    pipe.hlen(FAILED)
    counters, upstream, retries, latency, *rest = pipe.execute()
    depths, (unacked, failed) = rest[:len(queues)], rest[len(queues):]
    return Readings(
        counters={_s(k): int(v) for k, v in counters.items()},
        upstream=_split_keys(upstream, 3),
        retries=_split_keys(retries, 2),
        latency=histograms({_s(k): _s(v) for k, v in latency.items()}),
        queues=dict(zip(queues, (int(d) for d in depths), strict=True)),
        unacked=int(unacked), failed=int(failed))


def histograms(fields: dict[str, str]) -> dict[str, Histogram]:
    """Per-bucket counts → cumulative Prometheus buckets, per kind."""
    kinds = {f.rpartition("|")[0] for f in fields}   # the count is the +Inf bucket's
    out = {}
    for kind in sorted(kinds):
        running, buckets = 0, []
        for bound in LATENCY_BUCKETS:
            running += int(fields.get(f"{kind}|{_le(bound)}", 0))
            buckets.append((_le(bound), running))
        out[kind] = Histogram(buckets, float(fields.get(f"{kind}|sum", 0.0)), running)
    return out


def _split_keys(raw: dict[bytes, bytes], parts: int) -> dict:
    out: dict = {}
    for k, v in raw.items():
        key = tuple(_s(k).split("|", parts - 1))
        if len(key) == parts:
            out[key] = out.get(key, 0) + int(v)
    return out


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
