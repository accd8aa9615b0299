"""Burst mode for ticket metrics: when the shared events budget is spent, events wait in a
Redis list and go out through Klaviyo's bulk endpoint (up to 1000 per call, its own budget),
instead of waiting one by one or exceeding the limit.

`flush` runs from celery beat every few seconds. It moves a batch to an in-flight list named by
a token before sending, and removes it only after Klaviyo's 202; a flusher that dies leaves the
in-flight list behind, and the next flush puts stale in-flight batches back. A batch sent twice
that way is stored once by Klaviyo (each event's unique_id).

Batches are capped by serialized size as well as count (Klaviyo takes 5 MB per call). A batch
Klaviyo refuses (4xx) is halved, and the halves sent again, until the refused events stand
alone: only they land in failed jobs (`metric:<unique_id>`), each kept so a replay parks it
again; it leaves failed jobs when Klaviyo takes it.

M5: a parked event's requester count is read when it is flushed (SupportState.stamped), under
the requester's hold; an event whose requester another process is sending for waits for the
next flush.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict

from bridge.budgets import BULK_BUDGET, BULK_MAX, BULK_MAX_BYTES
from bridge.domain.metric_rules import MetricEvent
from bridge.domain.support_rules import DEFAULT_PROPERTY
from bridge.errors import Permanent, Retryable
from bridge.ports import EventsApi, StorePort

STALE_SECONDS = 120
METRIC_SOURCE = "metric"    # failed-jobs refs of refused metric events: metric:<unique_id>


def buffer(store: StorePort, event: MetricEvent) -> None:
    """Park one event for the next bulk call; its done-marker is set now (it will be sent)."""
    store.metric_buffer.park(json.dumps(asdict(event)), event.ticket_id, event.metric)


def flush(store: StorePort, klaviyo: EventsApi, now: float | None = None,
          support_property: str = DEFAULT_PROPERTY) -> int:
    """Send what is parked, in batches, while the bulk budget allows. Returns events sent."""
    now = time.time() if now is None else now
    parked = store.metric_buffer
    parked.requeue_stale(now, STALE_SECONDS)
    sent = 0
    while parked.waiting() and store.quota.take(BULK_BUDGET) == 0:
        token, batch = parked.take_batch(BULK_MAX, now, BULK_MAX_BYTES)
        if not batch:
            break
        with store.support.stamped(_decoded(batch), support_property) as events:
            done, leftover = _deliver(store, klaviyo, batch, events, now)
        sent += done
        if leftover:
            parked.put_back(token, leftover)
            break
        parked.done(token)
    return sent


def _decoded(batch: list[bytes]) -> list[MetricEvent]:
    return [MetricEvent(**json.loads(raw)) for raw in batch]


def _deliver(store: StorePort, klaviyo: EventsApi, batch: list[bytes],
             stamped: list[MetricEvent | None], now: float) -> tuple[int, list[bytes]]:
    """Send one batch (its first call's budget already taken), each event as `stamped` (None:
    its requester is busy, it waits). A refused part is halved until each refused event stands
    alone and is set aside, so one bad event never costs the others. Returns (events sent,
    events to send later: Klaviyo unavailable, the budget spent, or the requester busy)."""
    later = [raw for raw, e in zip(batch, stamped, strict=True) if e is None]
    parts = [[(raw, e) for raw, e in zip(batch, stamped, strict=True) if e is not None]]
    sent, first = 0, True
    while parts and parts[-1]:
        part = parts.pop()
        if not first and store.quota.take(BULK_BUDGET) != 0:
            return sent, [raw for p in parts + [part] for raw, _ in p] + later
        first = False
        events = [e for _, e in part]
        try:
            klaviyo.bulk_create_events(events)
        except Retryable:
            return sent, [raw for p in parts + [part] for raw, _ in p] + later
        except Permanent as error:
            if len(part) > 1:
                parts += [part[len(part) // 2:], part[:len(part) // 2]]
            else:
                _set_aside(store, part[0][0], events[0], error, now)
            continue
        _settle(store, events)
        sent += len(events)
    return sent, later


def metric_ref(event: MetricEvent) -> str:
    """The failed-jobs ref of a metric event Klaviyo refused."""
    return f"{METRIC_SOURCE}:{event.unique_id}"


def _set_aside(store: StorePort, raw: bytes, event: MetricEvent, error: Permanent,
               now: float) -> None:
    ref = metric_ref(event)
    store.metric_buffer.set_aside(ref, raw)
    store.outcomes.record_failure(ref, "bridge.flush_metrics", error, 1, now)
    store.outcomes.count("ticket_metric", "failed", "bulk_refused")


def _settle(store: StorePort, events: list[MetricEvent]) -> None:
    store.outcomes.count("ticket_metric", "processed", "bulk", amount=len(events))
    for ref in store.metric_buffer.settle([metric_ref(e) for e in events]):
        store.outcomes.clear_failure(ref)
