"""E7 upgrade (#16), real processes: a single-brand deployment's stored data, in today's format,
is processed once and as the default brand's by the brand-aware version, even once a brands file
adds a second brand. Written the old way: a conversation with its ticket, texts kept and queued
under `klaviyo:<id>` refs with Celery messages in the queue of the version before lanes, the
sweep's `bridge.ticket_metric` message with its three arguments, and a reply's sent-text mark
(`zkb:sent:<phone>:<hash>`) that its Klaviyo echo must still find."""

from __future__ import annotations

import time

import pytest

from scripts.devstack import Stack
from tests.e2e.harness import (
    ACME_ZENDESK_BRAND,
    ALICE,
    BOLT,
    SHORT_CODE,
    TOLL_FREE,
    Bridge,
    open_tickets,
    wait_for,
)
from tests.e2e.test_upgrade_lanes import old_publish, old_text

pytestmark = pytest.mark.e2e
OPENED = "Opened Ticket"


@pytest.fixture
def stack(brands_stack: Stack) -> Stack:
    return brands_stack


def test_todays_texts_metrics_and_marks_are_the_default_brands_after_the_upgrade(
        bridge: Bridge) -> None:
    ticket = open_tickets(bridge, ((ALICE, TOLL_FREE),))[(ALICE, TOLL_FREE)]
    assert bridge.ticket(ticket)["brand_id"] == ACME_ZENDESK_BRAND
    now = time.time()
    refs = [old_text(bridge, f"01JUPG{i}", f"stored text {i}", now - 10 + i, 800_000 + i)
            for i in range(3)]
    for ref in refs:
        old_publish(bridge, "bridge.inbound_sms", ref, "zkb.klaviyo")
    wait_for(lambda: bridge.redis.llen("zkb.klaviyo") == 0, what="the old queue to drain")
    bridge.settle()
    bodies = [c["body"] for c in bridge.comments(ticket) if c["public"]]
    assert [b for b in bodies if b.startswith("stored text")] == [
        "stored text 0", "stored text 1", "stored text 2"]
    assert all(bridge.redis.hget(f"zkb:ev:{ref}", "state") == b"done" for ref in refs)

    # the sweep's message of before brands: (ticket, metric, time), no brand
    bridge.redis.delete(f"zkb:metric:{ticket}:{OPENED}")
    publish_old_metric(bridge, ticket, OPENED)
    wait_for(lambda: bridge.counters().get("ticket_metric:processed:sweep"), timeout=120,
             what="the old ticket_metric message to run")
    bridge.settle()
    assert bridge.redis.exists(f"zkb:metric:{ticket}:{OPENED}")
    assert not any(k.startswith("ticket_metric@") for k in bridge.counters())
    assert [e["properties"]["Ticket_id"] for e in bridge.klaviyo_events(OPENED)] == [ticket]
    assert not bridge.klaviyo_events(OPENED, BOLT)

    # a reply's sent mark as the old version wrote it: its echo is still known as the bridge's
    from bridge.adapters.redis_keys import digest  # noqa: PLC0415

    bridge.redis.set(f"zkb:sent:{ALICE}:{digest('Thanks, on its way')}", 1, ex=3600)
    bridge.campaign(ALICE, "Thanks, on its way", "Spring", to_from=SHORT_CODE)
    bridge.settle()
    assert not [c for c in bridge.comments(ticket) if not c["public"]]
    assert bridge.counters().get("received_sms:dropped:own_reply", 0) == 1


def publish_old_metric(bridge: Bridge, ticket: int, metric: str) -> None:
    """The catch-up sweep's message as the version before brands sent it: three arguments."""
    from bridge.config import Settings  # noqa: PLC0415
    from workers.celery_app import make_celery  # noqa: PLC0415

    make_celery(Settings.from_env(bridge.stack.env())).send_task(
        "bridge.ticket_metric", args=[ticket, metric, "2026-12-01T10:00:00Z"],
        queue="zkb.zendesk", routing_key="zkb.zendesk")
