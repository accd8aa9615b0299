"""Chaos 2b: the same Redis restart WITHOUT persistence, to show what durability rests on.

Zendesk answers slowly (250 ms a call), so acknowledged texts pile up in Redis; then the load
pauses (nothing of ours in flight), the test notes what Redis holds that is not yet applied,
and Redis is restarted empty. What is lost is reported. It must be only events acknowledged
before the restart that were still waiting in Redis at that moment; everything acknowledged
after it lands exactly once, and nothing is doubled. With AOF (test_process_faults) nothing
is lost: the README's production notes say durability rests on it.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tests.chaos.report import ChaosReport, tally
from tests.chaos.support import (
    Supervisor,
    TextLoad,
    acknowledged_at,
    broker_idle,
    chaos_stack,
    outbox_idle,
    set_faults,
    texts_landed,
    wait_until,
)
from tests.e2e.harness import Bridge

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

CUSTOMERS = 30
ROUNDS = 16
ENV = {"CELERY_VISIBILITY_TIMEOUT": "30", "WORKER_CONCURRENCY": "4"}


@pytest.mark.timeout(240)
def test_a_redis_restart_without_persistence_loses_only_what_was_still_queued(
        tmp_path: Path, record_property) -> None:  # noqa: ANN001 - pytest fixture
    report = ChaosReport("redis-restart-no-persistence", losses_expected=(
        "the demonstration: Redis restarted without AOF forgets events acknowledged and still "
        "waiting in it; checked below to be only those, nothing doubled"))
    with chaos_stack(tmp_path, ENV, redis_aof=False) as (stack, bridge):
        phones = bridge.make_customers(CUSTOMERS)
        set_faults(bridge, "zendesk", latency_ms=250)
        load = TextLoad(bridge, phones, ROUNDS, interval=0.3, tag="nopersist")
        supervisor = Supervisor(stack)
        load.start()
        supervisor.start()
        wait_until(lambda: len(load.texts) >= CUSTOMERS * ROUNDS // 2, 60, "half the texts",
                   every=0.2)
        load.hold()
        pending_texts, pending_zendesk = _pending(bridge)
        down_at = time.time()
        with supervisor.hands_off():
            down_for = stack.restart_redis()
        up_at = time.time()
        load.resume()
        load.finish()
        load.close_last()
        set_faults(bridge, "zendesk", latency_ms=0)

        pattern = re.compile(r"nopersist \d{3}-\d{3}")
        acked = [(body, f"klaviyo:{eid}", at) for body, eid, _, at in load.texts
                 if at is not None]
        after = [body for body, _, at in acked if at > up_at]

        def after_restart_landed() -> bool:
            landed = {b for v in texts_landed(bridge.tickets(), pattern).values() for b in v}
            return set(after) <= landed and broker_idle(bridge)

        try:
            wait_until(after_restart_landed, 120, "every text acknowledged after the restart", 2)
            wait_until(lambda: outbox_idle(bridge) and broker_idle(bridge), 60, "quiet")
        finally:
            supervisor.stop()

        tickets = bridge.tickets()
        landed = [b for v in texts_landed(tickets, pattern).values() for b in v]
        texts = report.add("texts", tally([body for body, _, _ in acked], landed))
        ref_of = {body: ref for body, ref, _ in acked}
        lost_refs = {ref_of[b] for b in texts.lost}
        lost_not_pending = lost_refs - pending_texts
        lost_after = [b for b in texts.lost if b in set(after)]
        opened_at = _acked_ticket_events(bridge, "ticket.created")
        opened = report.add("opened", tally(
            [t["id"] for t in tickets],
            [e["properties"]["Ticket_id"] for e in bridge.klaviyo_events("Opened Ticket")]))
        opened_lost_late = [t for t in opened.lost if (opened_at.get(t) or 0) > up_at]
        report.events_in = len(load.texts) + len(load.desk) + len(load.closed)
        report.notes["pending_at_restart"] = (f"texts={len(pending_texts)},"
                                              f"zendesk_events={len(pending_zendesk)}")
        report.notes["redis_down"] = f"{down_for:.1f}s"
        report.notes["exited_on_their_own"] = supervisor.restarts or "none"
        report.notes["lost_texts_all_pending"] = not lost_not_pending
        report.notes["tickets_per_conversation"] = max(
            (sum(1 for t in tickets if t["external_id"] == ext) for ext in
             {t["external_id"] for t in tickets if t["external_id"]}), default=0)
        report.emit(record_property)

        assert pending_texts, "nothing was waiting in Redis at the restart; nothing was tested"
        assert texts.duplicates == 0, "a text was applied twice"
        assert not lost_not_pending, f"lost texts that were not waiting in Redis: " \
                                     f"{sorted(lost_not_pending)[:5]}"
        assert not lost_after, f"texts acknowledged after the restart were lost: {lost_after[:5]}"
        assert all(at < down_at for body, _, at in acked if body in set(texts.lost))
        assert opened.duplicates == 0
        assert not opened_lost_late, "an Opened Ticket acknowledged after the restart was lost"


def _pending(bridge: Bridge) -> tuple[set[str], set[str]]:
    """Refs of texts waiting in conversation queues, and of Zendesk events not yet final."""
    r = bridge.redis
    texts: set[str] = set()
    for key in r.scan_iter(match="zkb:convq:*", count=1000):
        texts |= {m.decode().split("|", 1)[1] for m in r.zrange(key, 0, -1)}
    zendesk: set[str] = set()
    for key in r.scan_iter(match="zkb:ev:zendesk:*", count=1000):
        if r.hget(key, "state") in (b"received", b"queued"):
            zendesk.add(key.decode()[len("zkb:ev:"):])
    return {t for t in texts if t.startswith("klaviyo:")}, zendesk


def _acked_ticket_events(bridge: Bridge, kind: str) -> dict[int, float | None]:
    """Ticket id -> when the receiver acknowledged its `kind` webhook (None: never)."""
    out: dict[int, float | None] = {}
    for d in bridge.deliveries("zendesk"):
        doc = json.loads(d["body"])
        if doc["type"].endswith(kind):
            out[int(doc["detail"]["id"])] = acknowledged_at(d)
    return out
