"""A message the broker lost is found by the sweep, re-queued once and counted (issue 14).

Against a real redis-server: the receiver keeps a text and publishes its task; the message is
then deleted from Celery's list (`zkb.klaviyo`), as kombu's Redis transport can lose one it had
just popped when Redis stops. The sweep (bridge/handlers/sweep.py, as the beat task runs it)
re-queues it, `zkb_repaired_total{what="stranded_queue"}` moves by one on /metrics (read with
the strict exposition parser) and the ops page says so. A message still waiting is left alone.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import redis

from bridge.handlers.sweep import sweep
from tests.integration import support as it
from tests.integration.conftest import Receiver
from tests.integration.test_ops_page import TOKEN
from tests.support import exposition
from workers.queues import QUEUES, enqueue, task_for_kind

LATER = 60.0     # past the sweep's STRANDED_AFTER


def run_sweep(receiver: Receiver) -> dict[str, int]:
    """One sweep, as `bridge.sweep` runs it, a minute after the texts arrived."""
    store = receiver.store
    return sweep(store, lambda task, ref: enqueue(receiver.celery, task, ref),
                 time.time() + LATER, task_for_kind,
                 in_broker=lambda refs: store.broker.holding(refs, QUEUES))


def repaired(receiver: Receiver) -> dict[str, float]:
    text = receiver.client.get("/metrics").get_data(as_text=True)
    samples = exposition.parse(text)
    return {dict(labels)["what"]: value for (name, labels), value in samples.items()
            if name == "zkb_repaired_total"}


def text(receiver: Receiver, event_id: str, customer: str) -> None:
    body = it.klaviyo_body([it.klaviyo_event(event_id, customer=customer)])
    answer = receiver.client.post("/webhooks/klaviyo", data=body, headers=it.klaviyo_headers(body))
    assert answer.status_code == 202


def test_a_message_deleted_from_the_broker_is_requeued_by_the_sweep_and_counted_once(
        make_receiver: Callable[..., Receiver], r: redis.Redis) -> None:
    receiver = make_receiver(OPS_TOKEN=TOKEN)
    assert repaired(receiver) == {"unconfirmed_enqueue": 0, "stranded_queue": 0}
    text(receiver, "lost-1", "+15005550123")
    text(receiver, "kept-1", "+15005550124")
    lost = next(m for m in r.lrange(it.KLAVIYO_QUEUE, 0, -1) if b"'klaviyo:lost-1'" in m)
    assert r.lrem(it.KLAVIYO_QUEUE, 1, lost) == 1          # the broker loses one message

    assert run_sweep(receiver) == {"events": 0, "queues": 1}
    assert sorted(t.args[0] for t in it.queued(r, it.KLAVIYO_QUEUE)) == ["klaviyo:kept-1",
                                                                   "klaviyo:lost-1"]
    assert repaired(receiver) == {"unconfirmed_enqueue": 0, "stranded_queue": 1}

    # Both messages wait in the broker now: nothing more to repair, nothing published twice.
    assert run_sweep(receiver) == {"events": 0, "queues": 0}
    assert len(it.queued(r, it.KLAVIYO_QUEUE)) == 2
    assert repaired(receiver)["stranded_queue"] == 1
    auth = base64.b64encode(f"ops:{TOKEN}".encode()).decode()
    page = receiver.client.get("/ops", headers={"Authorization": f"Basic {auth}"})
    assert 'data-testid="repaired"' in page.get_data(as_text=True)
    assert "sweep had to re-queue" in page.get_data(as_text=True)


def test_a_message_held_by_a_worker_is_not_a_repair(
        make_receiver: Callable[..., Receiver], r: redis.Redis) -> None:
    receiver = make_receiver()
    text(receiver, "held-1", "+15005550125")
    message = r.rpop(it.KLAVIYO_QUEUE)                      # as kombu delivers it to a worker
    r.hset("unacked", "tag-1", message)
    assert run_sweep(receiver) == {"events": 0, "queues": 0}
    assert r.llen(it.KLAVIYO_QUEUE) == 0
    assert repaired(receiver)["stranded_queue"] == 0
