"""Upgrade to the priority lanes (#11), real processes: what the version before them left in
Redis — events and conversation state in their stored format, Celery messages in its queues
`zkb.klaviyo` / `zkb.zendesk`, no open-SMS index — is processed exactly once by the new worker,
which consumes the old queues as well as the lanes (Procfile)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from tests.e2e.harness import ALICE, PROFILE, TOLL_FREE, Bridge, open_tickets, wait_for
from tests.factories import sent_sms

pytestmark = pytest.mark.e2e


def old_text(bridge: Bridge, event_id: str, body: str, sent_at: float, seq: int) -> str:
    """zkb:ev:<ref> and its place in its conversation's queue, as the old receiver wrote them."""
    item = sent_sms(body, customer=ALICE, brand=TOLL_FREE, profile_id=PROFILE["alice"],
                    event_id=event_id, sent_at=datetime.fromtimestamp(sent_at, UTC))
    ref, queue = f"klaviyo:{event_id}", f"{ALICE}|{TOLL_FREE}"
    bridge.redis.hset(f"zkb:ev:{ref}", mapping={
        "raw": json.dumps(item, separators=(",", ":")), "kind": item["topic"],
        "received_at": time.time(), "seq": seq, "state": "queued", "queue": queue,
        "score": repr(sent_at)})
    bridge.redis.zadd(f"zkb:convq:{queue}", {f"{seq:015d}|{ref}": sent_at})
    return ref


def old_publish(bridge: Bridge, task: str, ref: str, queue: str) -> None:
    """A Celery message in the old queue's list, written by kombu as the old version sent it
    (its route named the queue; no lane header)."""
    from bridge.config import Settings  # noqa: PLC0415
    from workers.celery_app import make_celery  # noqa: PLC0415

    make_celery(Settings.from_env(bridge.stack.env())).send_task(
        task, args=[ref], queue=queue, routing_key=queue)


def test_texts_queued_by_the_previous_version_land_once_and_in_order(bridge: Bridge) -> None:
    ticket = open_tickets(bridge, ((ALICE, TOLL_FREE),))[(ALICE, TOLL_FREE)]
    for key in bridge.redis.scan_iter(match="zkb:opensms:*"):
        bridge.redis.delete(key)                       # the old version kept no index
    now = time.time()
    refs = [old_text(bridge, f"01JOLD{i}", f"old text {i}", now - 10 + i, 900_000 + i)
            for i in range(3)]
    for ref in refs:
        old_publish(bridge, "bridge.inbound_sms", ref, "zkb.klaviyo")
    old_publish(bridge, "bridge.inbound_sms", refs[0], "zkb.klaviyo")   # redelivered once
    wait_for(lambda: bridge.redis.llen("zkb.klaviyo") == 0, what="the old queue to drain")
    bridge.settle()
    bodies = [c["body"] for c in bridge.comments(ticket) if c["public"]]
    assert [b for b in bodies if b.startswith("old text")] == ["old text 0", "old text 1",
                                                               "old text 2"]
    assert all(bridge.redis.hget(f"zkb:ev:{ref}", "state") == b"done" for ref in refs)
    assert bridge.redis.hget(f"zkb:opensms:{ALICE}", TOLL_FREE)        # the index learns it
