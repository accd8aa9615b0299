"""The beat sweep re-queues stranded work with the task the receiver would have chosen (E1)."""

from __future__ import annotations

import fakeredis

from bridge.adapters.store import Store
from bridge.domain.model import RawEvent
from bridge.handlers.sweep import sweep
from workers.queues import TASK_BY_KIND, ZENDESK_TASK


def task_for_kind(source: str, kind: str) -> str | None:
    return ZENDESK_TASK if source == "zendesk" else TASK_BY_KIND.get(kind)


def test_stranded_queue_heads_are_requeued_to_their_own_handler() -> None:
    store = Store(fakeredis.FakeRedis())
    text = RawEvent("klaviyo", "k1", "event:klaviyo.sent_sms", {"x": 1})
    reply = RawEvent("zendesk", "z1", "zen:event-type:ticket.comment_added", {"y": 2})
    routes = {text.ref: ("+15005550101|+18005550100", 1.0), reply.ref: ("reply|101", 5.0)}
    store.events.save_events([text, reply], now=1000.0, route=lambda e: routes[e.ref])
    store.events.mark_queued([text.ref, reply.ref])
    sent: list[tuple[str, str]] = []
    result = sweep(store, lambda task, ref: sent.append((task, ref)), now=1100.0,
                   task_for_kind=task_for_kind)
    assert sorted(sent) == [("bridge.inbound_sms", "klaviyo:k1"),
                            ("bridge.zendesk_event", "zendesk:z1")]
    assert result == {"events": 0, "queues": 2}


def test_fresh_or_locked_queues_and_confirmed_events_are_left_alone() -> None:
    store = Store(fakeredis.FakeRedis())
    text = RawEvent("klaviyo", "k2", "event:klaviyo.sent_sms", {})
    store.events.save_events([text], now=1000.0, route=lambda e: ("+1|+2", 1.0))
    store.events.mark_queued([text.ref])
    sent: list[tuple[str, str]] = []
    assert sweep(store, lambda t, r: sent.append((t, r)), 1010.0, task_for_kind) == {
        "events": 0, "queues": 0}
    lock = store.queues.queue_lock("+1|+2")
    assert lock.acquire()
    assert sweep(store, lambda t, r: sent.append((t, r)), 2000.0, task_for_kind)["queues"] == 0
    assert sent == []


def test_an_event_whose_enqueue_was_never_confirmed_is_queued_again() -> None:
    store = Store(fakeredis.FakeRedis())
    event = RawEvent("zendesk", "z9", "zen:event-type:ticket.created", {})
    store.events.save_events([event], now=1000.0)
    sent: list[tuple[str, str]] = []
    assert sweep(store, lambda t, r: sent.append((t, r)), 1100.0, task_for_kind)["events"] == 1
    assert sent == [("bridge.zendesk_event", "zendesk:z9")]
    assert sweep(store, lambda t, r: sent.append((t, r)), 1200.0, task_for_kind)["events"] == 0
