"""Burst mode for ticket metrics: when the shared events budget is spent, events wait in a
Redis list and go out through Klaviyo's bulk endpoint (up to 1000 per call, its own budget),
instead of waiting one by one or exceeding the limit.

`flush` runs from celery beat every few seconds. It moves a batch to an in-flight list named by
a token before sending, and removes it only after Klaviyo's 202; a flusher that dies leaves the
in-flight list behind, and the next flush puts stale in-flight batches back. A batch sent twice
that way is stored once by Klaviyo (each event's unique_id).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict

from bridge.adapters.klaviyo import KlaviyoClient
from bridge.adapters.quota import Quota
from bridge.adapters.store import Store
from bridge.domain.metric_rules import MetricEvent
from bridge.domain.model import Budget
from bridge.errors import Permanent, Retryable

PENDING = "zkb:metrics:bulk"
INFLIGHT = "zkb:metrics:bulk:inflight:"
STALE_SECONDS = 120
BULK_MAX = 1000
BULK_BUDGET = Budget.per_minute("klaviyo-bulk-events", 150, per_second=10)


def buffer(store: Store, event: MetricEvent) -> None:
    """Park one event for the next bulk call; its done-marker is set now (it will be sent)."""
    pipe = store.r.pipeline()
    pipe.rpush(PENDING, json.dumps(asdict(event)))
    pipe.set(f"zkb:metric:{event.ticket_id}:{event.metric}", "bulk", ex=400 * 24 * 3600)
    pipe.execute()


def flush(store: Store, klaviyo: KlaviyoClient, quota: Quota, now: float | None = None) -> int:
    """Send what is parked, in batches, while the bulk budget allows. Returns events sent."""
    now = time.time() if now is None else now
    _requeue_stale(store, now)
    sent = 0
    while store.r.llen(PENDING) and quota.take(BULK_BUDGET) == 0:
        token = f"{INFLIGHT}{int(now)}:{uuid.uuid4().hex}"
        pipe = store.r.pipeline()
        pipe.lrange(PENDING, 0, BULK_MAX - 1)
        pipe.ltrim(PENDING, BULK_MAX, -1)
        batch = pipe.execute()[0]
        if not batch:
            break
        store.r.rpush(token, *batch)
        events = [MetricEvent(**json.loads(raw)) for raw in batch]
        try:
            klaviyo.bulk_create_events(events)
        except Retryable:
            store.r.rpush(PENDING, *batch)
            store.r.delete(token)
            break
        except Permanent as e:
            store.record_failure(token.removeprefix("zkb:"), "bridge.flush_metrics", e,
                                 1, now)
            store.r.delete(token)
            continue
        store.r.delete(token)
        store.count("ticket_metric", "processed", "bulk", amount=len(events))
        sent += len(events)
    return sent


def _requeue_stale(store: Store, now: float) -> None:
    for key in store.r.scan_iter(match=f"{INFLIGHT}*", count=100):
        started = int(key.decode()[len(INFLIGHT):].split(":", 1)[0])
        if started < now - STALE_SECONDS:
            batch = store.r.lrange(key, 0, -1)
            if batch:
                store.r.rpush(PENDING, *batch)
            store.r.delete(key)
