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
from dataclasses import asdict

from bridge.budgets import BULK_BUDGET, BULK_MAX
from bridge.domain.metric_rules import MetricEvent
from bridge.errors import Permanent, Retryable
from bridge.ports import EventsApi, StorePort

STALE_SECONDS = 120


def buffer(store: StorePort, event: MetricEvent) -> None:
    """Park one event for the next bulk call; its done-marker is set now (it will be sent)."""
    store.metric_buffer.park(json.dumps(asdict(event)), event.ticket_id, event.metric)


def flush(store: StorePort, klaviyo: EventsApi, now: float | None = None) -> int:
    """Send what is parked, in batches, while the bulk budget allows. Returns events sent."""
    now = time.time() if now is None else now
    parked, outcomes, quota = store.metric_buffer, store.outcomes, store.quota
    parked.requeue_stale(now, STALE_SECONDS)
    sent = 0
    while parked.waiting() and quota.take(BULK_BUDGET) == 0:
        token, batch = parked.take_batch(BULK_MAX, now)
        if not batch:
            break
        events = [MetricEvent(**json.loads(raw)) for raw in batch]
        try:
            klaviyo.bulk_create_events(events)
        except Retryable:
            parked.put_back(token, batch)
            break
        except Permanent as e:
            outcomes.record_failure(token.removeprefix("zkb:"), "bridge.flush_metrics", e, 1,
                                    now)
            parked.done(token)
            continue
        parked.done(token)
        outcomes.count("ticket_metric", "processed", "bulk", amount=len(events))
        sent += len(events)
    return sent
