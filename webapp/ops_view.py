"""What the /ops page shows, gathered from Redis, Celery and the setup check.

Cheap things (queue lengths, counters, conversations, failed jobs) are read on every view.
Expensive ones are cached per process for CACHE_SECONDS: the setup check calls Zendesk and
Klaviyo (and spends their budgets), and asking workers to answer a ping waits PING_SECONDS.
Phone numbers are masked; only what an operator needs to act is shown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from celery import Celery

from bridge.adapters.meters import by_brand
from bridge.adapters.store import Store
from bridge.domain.brand_scope import source_of
from bridge.domain.opt_out import OPT_OUT_REQUEST_TAG
from bridge.domain.phones import mask
from bridge.domain.reply_holds import (
    OPT_OUT_REQUEST,
    QUIET_HOURS,
    SEND_NOW_TAG,
    SEND_TEMPLATE_TAG,
    WHATSAPP_WINDOW,
)

CACHE_SECONDS = 30.0
PING_SECONDS = 1.0
RECENT = 20
HELD_SCAN = 1000     # parked jobs looked at for held replies (soonest first)
T = TypeVar("T")


class Cached(Generic[T]):
    """A value recomputed at most every `ttl` seconds, shared by the process's threads."""

    def __init__(self, compute: Callable[[], T], ttl: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.compute, self.ttl, self.clock = compute, ttl, clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._at: float | None = None

    def get(self) -> T:
        with self._lock:
            if self._at is None or self.clock() - self._at >= self.ttl:
                self._value, self._at = self.compute(), self.clock()
            return self._value  # type: ignore[return-value]

    @property
    def age(self) -> float:
        return 0.0 if self._at is None else self.clock() - self._at


def ping_workers(celery: Celery, timeout: float = PING_SECONDS) -> list[str]:
    """Host names of the Celery workers that answer a broadcast ping within `timeout`."""
    replies = celery.control.ping(timeout=timeout) or []
    return sorted(name for reply in replies for name in reply)


@dataclass
class KindOutcomes:
    """One row of the outcomes table: a kind of job (or webhook source) and its counts."""

    kind: str
    counts: dict[str, int] = field(default_factory=dict)           # outcome -> total
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)  # outcome -> reason -> n


def outcomes(counters: dict[str, int]) -> list[KindOutcomes]:
    """`zkb:counters` (`<kind>:<outcome>:<reason>`) grouped by kind, reasons kept apart."""
    rows: dict[str, KindOutcomes] = {}
    for key, value in sorted(counters.items()):
        kind, _, rest = key.partition(":")
        outcome, _, reason = rest.partition(":")
        row = rows.setdefault(kind, KindOutcomes(kind))
        row.counts[outcome] = row.counts.get(outcome, 0) + value
        if reason:
            row.reasons.setdefault(outcome, {})[reason] = value
    return list(rows.values())


def brand_counters(store: Store, brand: str | None) -> dict[str, int]:
    """The outcome counters as `<kind>:<outcome>:<reason>`: one brand's, or (None) every
    brand's added up (E7: a counter of a brand other than the default is stored with its name,
    meters.counter_field)."""
    if brand is not None:
        return store.outcomes.counters(brand)
    total: dict[str, int] = {}
    for counters in by_brand(store.outcomes.counters()).values():
        for key, n in counters.items():
            total[key] = total.get(key, 0) + n
    return total


def ticket_metrics(counters: dict[str, int]) -> dict[str, int]:
    """`Opened Ticket` and `Resolved Ticket` events recorded on Klaviyo profiles, by name."""
    return {name: counters.get(f"ticket_metric:recorded:{name}", 0)
            for name in ("Opened Ticket", "Resolved Ticket")}


def repaired(counters: dict[str, int]) -> int:
    """Events the sweep had to re-queue (no broker message carried them any more, issue 14)."""
    return sum(v for k, v in counters.items() if k.startswith("sweep:repaired:"))


def recent_conversations(store: Store, limit: int = RECENT) -> list[dict[str, Any]]:
    """The latest conversations (`zkb:recent`), phone masked, with their ticket."""
    out = []
    for conv, phone, brand, at in store.conversations.recent(limit):
        out.append({"phone": mask(phone), "brand": brand, "updated": when(at),
                    "ticket_id": conv.ticket_id if conv else None,
                    "status": (conv.ticket_status if conv else None) or "?"})
    return out


# What releases a held reply (bridge/domain/reply_holds.py), for the ops page.
RELEASE = {QUIET_HOURS: f"add the tag {SEND_NOW_TAG} to send it now",
           OPT_OUT_REQUEST: f"remove the tag {OPT_OUT_REQUEST_TAG} to send it",
           WHATSAPP_WINDOW: f"the customer's next message, or the tag {SEND_TEMPLATE_TAG}"}


def held_replies(store: Store, limit: int = HELD_SCAN) -> list[dict[str, Any]]:
    """Agents' replies held (A8 quiet hours, S10 opt-out request, S9 WhatsApp window): ticket,
    reason, when it is looked at again, and what releases it. From the refs parked in
    `zkb:due` (the first `limit`, soonest first) whose event is marked held."""
    parked = [(ref, at) for ref, at in store.due.parked(limit) if source_of(ref) == "zendesk"]
    fields = store.events.event_fields([ref for ref, _ in parked], "hold", "queue")
    out = []
    for (ref, at), f in zip(parked, fields, strict=True):
        if f.get("hold") and f.get("queue", "").startswith("reply|"):
            out.append({"ticket_id": f["queue"].removeprefix("reply|"), "reason": f["hold"],
                        "until": when(at), "release": RELEASE.get(f["hold"], ""), "ref": ref})
    return out


def queue_depths(store: Store, queues: tuple[str, ...]) -> dict[str, int]:
    """Tasks waiting per queue, plus those delivered to a worker and not yet acknowledged."""
    return store.outcomes.queue_depths(queues)


def when(at: float | str | None) -> str:
    if not at:
        return ""
    return datetime.fromtimestamp(float(at), tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
