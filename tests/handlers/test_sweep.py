"""The sweep (E1) with fakes: work a crash stranded (an event stored but never published, a
conversation queue no worker holds) is published again and then applied by its handler; a
queue a live worker holds is left to it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.domain.sms_rules import Policy
from bridge.handlers.sms_inbound import InboundDeps, handle_inbound
from bridge.handlers.sweep import STRANDED_AFTER, sweep
from bridge.payloads.klaviyo_events import RECEIVED_SMS, SENT_SMS
from tests import fakes
from tests.factories import ALICE, profile, raw_event, receive, sent_sms
from tests.fakes import Clock, FakeKlaviyo, FakeZendesk

TASKS = {SENT_SMS: "bridge.inbound_sms", RECEIVED_SMS: "bridge.received_sms"}
LATER = STRANDED_AFTER + 1


def task_for_kind(source: str, kind: str) -> str | None:
    return "bridge.zendesk_event" if source == "zendesk" else TASKS.get(kind)


class Published:
    """The broker, as the sweep sees it: what was published, in order."""

    def __init__(self) -> None:
        self.tasks: list[tuple[str, str]] = []

    def __call__(self, task: str, ref: str) -> None:
        self.tasks.append((task, ref))


@pytest.fixture
def deps(zendesk: FakeZendesk, clock: Clock) -> InboundDeps:
    return InboundDeps(store=fakes.store(), zendesk=zendesk, klaviyo=FakeKlaviyo(profile(ALICE)),
                       policy=Policy(), clock=clock, sleep=clock.sleep)


def texts(clock: Clock, *bodies: str) -> list[dict]:
    return [sent_sms(body, sent_at=datetime.fromtimestamp(clock() + i, UTC))
            for i, body in enumerate(bodies)]


def run_published(published: Published, deps: InboundDeps) -> None:
    for task, ref in published.tasks:
        assert task == "bridge.inbound_sms"
        handle_inbound(ref, deps)


def all_comments(zendesk: FakeZendesk) -> list[str]:
    return [body for tid in zendesk.tickets for body in zendesk.comments_on(tid)]


def test_a_text_stored_but_never_published_is_published_and_then_applied(
        deps: InboundDeps, zendesk: FakeZendesk, clock: Clock) -> None:
    [item] = texts(clock, "hello")
    deps.store.events.save_events([raw_event(item)], clock())     # the receiver died here
    published = Published()
    clock.advance(LATER)
    assert sweep(deps.store, published, clock(), task_for_kind)["events"] == 1
    run_published(published, deps)
    assert all_comments(zendesk) == ["hello"]
    assert sweep(deps.store, published, clock.now + LATER, task_for_kind)["events"] == 0


def test_an_unused_topic_left_by_a_dead_receiver_is_dropped_once_not_reread_forever(
        deps: InboundDeps, clock: Clock) -> None:
    clicked = raw_event({"external_id": "click-1", "topic": "event:klaviyo.clicked_sms",
                         "payload": {"type": "event", "id": "click-1", "attributes": {}}})
    deps.store.events.save_events([clicked], clock())          # the receiver died here
    published = Published()
    clock.advance(LATER)
    assert sweep(deps.store, published, clock(), task_for_kind) == {"events": 0, "queues": 0}
    assert published.tasks == []
    assert deps.store.events.load_event(clicked.ref)["state"] == "dropped"
    assert deps.store.events.unqueued_before(clock() + LATER) == []


def test_an_abandoned_conversation_is_requeued_once_by_its_head_and_drains_in_order(
        deps: InboundDeps, zendesk: FakeZendesk, clock: Clock) -> None:
    refs = [receive(deps.store, item, clock()) for item in texts(clock, "one", "two", "three")]
    published = Published()                    # their tasks were lost with the worker
    clock.advance(LATER)
    assert sweep(deps.store, published, clock(), task_for_kind) == {"events": 0, "queues": 1}
    assert published.tasks == [("bridge.inbound_sms", refs[0])]
    run_published(published, deps)
    assert all_comments(zendesk) == ["one", "two", "three"]


def test_a_queue_a_worker_is_draining_is_left_alone_until_its_lock_is_gone(
        deps: InboundDeps, clock: Clock) -> None:
    [ref] = [receive(deps.store, item, clock()) for item in texts(clock, "hello")]
    queue = deps.store.events.load_event(ref)["queue"]                # type: ignore[index]
    worker = deps.store.queues.queue_lock(queue)
    assert worker.acquire()
    published = Published()
    clock.advance(LATER)
    assert sweep(deps.store, published, clock(), task_for_kind)["queues"] == 0
    worker.release()                                                  # the worker died
    assert sweep(deps.store, published, clock(), task_for_kind)["queues"] == 1
    assert published.tasks == [("bridge.inbound_sms", ref)]


def test_a_drained_queue_is_not_requeued(deps: InboundDeps, clock: Clock) -> None:
    [ref] = [receive(deps.store, item, clock()) for item in texts(clock, "hello")]
    handle_inbound(ref, deps)
    published = Published()
    assert sweep(deps.store, published, clock() + LATER, task_for_kind) == {
        "events": 0, "queues": 0}
    assert published.tasks == []


def test_a_replay_whose_publish_failed_is_published_by_the_sweep(
        deps: InboundDeps, zendesk: FakeZendesk, clock: Clock) -> None:
    [ref] = [receive(deps.store, item, clock()) for item in texts(clock, "hello")]
    deps.store.events.update_event(ref, state="failed")               # set aside earlier
    assert deps.store.events.reopen_event(ref, clock())               # replay; publish failed
    published = Published()
    clock.advance(LATER)
    sweep(deps.store, published, clock(), task_for_kind)
    run_published(published, deps)
    assert all_comments(zendesk) == ["hello"]
