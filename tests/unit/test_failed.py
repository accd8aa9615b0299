"""Failed jobs (E2): set aside with their reason, listed masked, replayed safely, purged."""

from __future__ import annotations

import json

import fakeredis
import pytest

from bridge.adapters.store import Store
from bridge.domain.brand_scope import scope
from bridge.domain.model import RawEvent
from bridge.errors import FailedAttempt, Permanent, Retryable
from bridge.handlers.runner import Done, Runner
from bridge.ops import failed_jobs as failed
from workers.queues import task_for_kind

ALICE, TOLL_FREE = "+15005550101", "+18005550100"
QUEUE = f"{ALICE}|{TOLL_FREE}"


def text_event(event_id: str, body: str = "where is my order? alice@example.com") -> RawEvent:
    return RawEvent("klaviyo", event_id, "event:klaviyo.sent_sms", {
        "topic": "event:klaviyo.sent_sms",
        "payload": {"id": event_id, "attributes": {
            "datetime": "2026-11-25T10:12:07+00:00",
            "event_properties": {"Message Body": body, "To Number": TOLL_FREE,
                                 "From Number": ALICE}}}})


def reply_event(event_id: str) -> RawEvent:
    return RawEvent("zendesk", event_id, "zen:event-type:ticket.comment_added", {
        "id": event_id, "type": "zen:event-type:ticket.comment_added",
        "detail": {"id": "101", "external_id": f"zkb-sms:{ALICE}:{TOLL_FREE}"},
        "event": {"comment": {"id": "991", "body": "Call me at +15005550101",
                              "is_public": True}}})


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> Store:
    return Store(fakeredis.FakeRedis())


def receive(store: Store, *events: RawEvent, score: float = 5.0, now: float = 1000.0) -> None:
    """What the receiver does: keep, place texts in their conversation's queue, confirm."""
    store.events.save_events(list(events), now=now,
                      route=lambda e: (QUEUE, score) if e.source == "klaviyo" else None)
    store.events.mark_queued([e.ref for e in events])


def runner(store: Store, process, clock: Clock | None = None,  # noqa: ANN001
           source: str = "klaviyo", max_attempts: int = 3) -> Runner:
    return Runner(store=store, kind="inbound_sms", source=source, task="bridge.inbound_sms",
                  process=process, max_attempts=max_attempts, clock=clock or Clock(),
                  sleep=lambda s: None)


def refuse(ref: str, event: dict) -> Done:
    raise Permanent("zendesk", "POST users/create_or_update answered 422: Email: "
                               "alice@example.com is invalid", 422)


def apply(ref: str, event: dict) -> Done:
    return Done("applied")


def set_aside(store: Store, event: RawEvent, clock: Clock | None = None) -> None:
    receive(store, event)
    assert runner(store, refuse, clock).run_event(event.ref) == "done"
    assert store.events.load_event(event.ref)["state"] == "failed"


class Published:
    def __init__(self) -> None:
        self.tasks: list[tuple[str, str]] = []

    def __call__(self, task: str, ref: str) -> None:
        self.tasks.append((task, ref))


def test_a_permanently_failing_text_is_listed_with_its_reason_and_attempts(
        store: Store) -> None:
    set_aside(store, text_event("k1"))
    [job] = failed.list_failed(store)
    assert (job["ref"], job["source"], job["error"], job["attempts"], job["state"]) == (
        "klaviyo:k1", "klaviyo", "Permanent", 1, "failed")
    assert "answered 422" in job["message"]
    assert "alice@example.com" not in job["message"]     # masked (E5)


def test_show_has_the_event_state_and_a_masked_summary(store: Store) -> None:
    set_aside(store, text_event("k1"))
    job = failed.get_failed(store, "klaviyo:k1")
    assert job is not None
    assert (job["state"], job["kind"], job["attempts"]) == ("failed", "event:klaviyo.sent_sms", 1)
    assert job["summary"].startswith("text from +1")
    assert "where is my order?" in job["summary"]
    shown = str(job)
    assert ALICE not in shown and TOLL_FREE not in shown and "alice@example.com" not in shown
    assert failed.get_failed(store, "klaviyo:nope") is None


def test_a_reply_event_summary_names_ticket_and_comment_without_the_phone() -> None:
    summary = failed.summarize(reply_event("z1").kind, reply_event("z1").data)
    assert summary.startswith("ticket.comment_added on ticket 101: public reply 991")
    assert ALICE not in summary


def test_list_filters_by_source_and_by_when_it_failed(store: Store) -> None:
    set_aside(store, text_event("k1"), Clock(1000.0))
    receive(store, reply_event("z1"))
    runner(store, refuse, Clock(2000.0), source="zendesk").run_event("zendesk:z1")
    assert [j["ref"] for j in failed.list_failed(store)] == ["klaviyo:k1", "zendesk:z1"]
    assert [j["ref"] for j in failed.list_failed(store, source="zendesk")] == ["zendesk:z1"]
    assert [j["ref"] for j in failed.list_failed(store, since=1500.0)] == ["zendesk:z1"]


def test_replay_puts_the_text_back_in_its_queue_and_publishes_its_task(store: Store) -> None:
    set_aside(store, text_event("k1"))
    assert store.client.zcard(f"zkb:convq:{QUEUE}") == 0
    published = Published()
    said = failed.replay(store, "klaviyo:k1", published, task_for_kind, now=lambda: 3000.0)
    assert "replayed" in said and "attempts reset to 0" in said
    assert published.tasks == [("bridge.inbound_sms", "klaviyo:k1")]
    event = store.events.load_event("klaviyo:k1")
    assert (event["state"], event["attempts"]) == ("queued", "0")
    assert store.client.zrange(f"zkb:convq:{QUEUE}", 0, -1, withscores=True) == [
        (f"{int(event['seq']):015d}|klaviyo:k1".encode(), 5.0)]
    assert store.client.zscore("zkb:unqueued", "klaviyo:k1") is None   # publish confirmed
    assert store.outcomes.failed_entry("klaviyo:k1") is not None           # until it succeeds


def test_a_replayed_job_that_succeeds_leaves_failed_jobs(store: Store) -> None:
    set_aside(store, text_event("k1"))
    failed.replay(store, "klaviyo:k1", Published(), task_for_kind)
    assert runner(store, apply).run_event("klaviyo:k1") == "done"
    assert store.events.load_event("klaviyo:k1")["state"] == "done"
    assert failed.list_failed(store) == []
    assert store.client.zcard(f"zkb:convq:{QUEUE}") == 0


def test_a_replayed_job_that_fails_again_stays_listed_with_its_new_error(store: Store) -> None:
    set_aside(store, text_event("k1"), Clock(1000.0))
    failed.replay(store, "klaviyo:k1", Published(), task_for_kind)

    def down(ref: str, event: dict) -> Done:
        raise Retryable("zendesk", "POST users/create_or_update answered 503", 503)

    again = runner(store, down, Clock(5000.0), max_attempts=2)
    with pytest.raises(FailedAttempt) as first:
        again.run_event("klaviyo:k1")
    assert isinstance(first.value.cause, Retryable) and first.value.attempts == 1
    again.run_event("klaviyo:k1")
    [job] = failed.list_failed(store)
    assert (job["error"], job["attempts"], job["first_failure"], job["last_failure"]) == (
        "Retryable", 2, 1000.0, 5000.0)


def test_replaying_an_applied_event_changes_nothing_and_says_so(store: Store) -> None:
    receive(store, text_event("k1"))
    runner(store, apply).run_event("klaviyo:k1")
    before = store.client.hgetall("zkb:ev:klaviyo:k1")
    published = Published()
    said = failed.replay(store, "klaviyo:k1", published, task_for_kind)
    assert said == "klaviyo:k1: already applied; nothing changed"
    assert published.tasks == [] and store.client.hgetall("zkb:ev:klaviyo:k1") == before


def test_a6_a_reply_whose_outcome_is_unknown_is_replayed_to_be_settled_again(
        store: Store) -> None:
    """Its replay looks for the reply before anything is sent (handlers/reply_settle.py)."""
    from bridge.errors import ReplyOutcomeUnknown

    receive(store, reply_event("z1"))

    def unsettled(ref: str, event: dict) -> Done:
        raise ReplyOutcomeUnknown("klaviyo", "Klaviyo did not answer")

    runner(store, unsettled, source="zendesk").run_event("zendesk:z1")
    assert store.outcomes.failed()["zendesk:z1"]["replayable"] is True
    published = Published()
    failed.replay(store, "zendesk:z1", published, task_for_kind)
    assert [ref for _, ref in published.tasks] == ["zendesk:z1"]


def test_replay_of_an_expired_event_says_it_cannot(store: Store) -> None:
    set_aside(store, text_event("k1"))
    store.client.delete("zkb:ev:klaviyo:k1")
    said = failed.replay(store, "klaviyo:k1", Published(), task_for_kind)
    assert "no longer stored" in said
    assert failed.get_failed(store, "klaviyo:k1")["summary"].startswith("(the event is no")


def test_replay_all_of_one_source(store: Store) -> None:
    set_aside(store, text_event("k1"))
    receive(store, reply_event("z1"))
    runner(store, refuse, source="zendesk").run_event("zendesk:z1")
    published = Published()
    lines = failed.replay_many(store, published, task_for_kind, source="zendesk")
    assert len(lines) == 1 and published.tasks == [("bridge.zendesk_event", "zendesk:z1")]


def test_purge_named_jobs_or_all_leaves_their_events_alone(store: Store) -> None:
    set_aside(store, text_event("k1"))
    set_aside(store, text_event("k2"))
    set_aside(store, text_event("k3"))
    assert failed.purge(store, ["klaviyo:k1", "klaviyo:nope"]) == 1
    assert [j["ref"] for j in failed.list_failed(store)] == ["klaviyo:k2", "klaviyo:k3"]
    assert failed.purge(store) == 2 and failed.list_failed(store) == []
    assert store.events.load_event("klaviyo:k1")["state"] == "failed"


def test_a_replay_whose_publish_fails_is_left_for_the_sweep(store: Store) -> None:
    set_aside(store, text_event("k1"))

    def broker_down(task: str, ref: str) -> None:
        raise ConnectionError("broker down")

    said = failed.replay(store, "klaviyo:k1", broker_down, task_for_kind, now=lambda: 3000.0)
    assert "the sweep publishes it" in said
    assert store.events.unqueued_before(3100.0) == [("klaviyo:k1", "event:klaviyo.sent_sms")]


# --- brands (E7, #16) ---------------------------------------------------------------------------
METRIC = '{"metric": "Opened Ticket", "ticket_id": 7, "unique_id": "u7"}'


def set_aside_metric(store: Store, brand: str, ref: str, now: float = 1000.0) -> None:
    """What the metric flush of `brand` leaves when Klaviyo refuses one event (metric_burst)."""
    with scope(brand):
        store.metric_buffer.set_aside(ref, METRIC)
        store.outcomes.record_failure(ref, "bridge.flush_metrics",
                                      Permanent("klaviyo", "refused", 400), 1, now)


def test_jobs_are_listed_by_brand_and_an_entry_from_before_brands_is_the_defaults(
        store: Store) -> None:
    set_aside(store, text_event("k1"))
    entry = store.outcomes.failed_entry("klaviyo:k1")
    del entry["brand"]                                   # as versions before E7 wrote it
    store.client.hset("zkb:failed", "klaviyo:k1", json.dumps(entry))
    set_aside_metric(store, "shop2", "metric:u7")
    assert [j["ref"] for j in failed.list_failed(store, brand="default")] == ["klaviyo:k1"]
    assert [(j["ref"], j["brand"]) for j in failed.list_failed(store, brand="shop2")] == [
        ("metric:u7", "shop2")]
    assert len(failed.list_failed(store)) == 2
    assert failed.get_failed(store, "metric:u7")["summary"] == \
        "Opened Ticket of ticket 7 (unique_id u7)"     # read in shop2's scope


def test_a_brands_metric_job_is_replayed_into_its_own_brands_buffer(store: Store) -> None:
    set_aside_metric(store, "shop2", "metric:u7")
    said = failed.replay(store, "metric:u7", Published(), task_for_kind)
    assert ": replayed:" in said
    with scope("shop2"):
        assert store.metric_buffer.waiting() == 1
    assert store.metric_buffer.waiting() == 0           # not the default brand's


def test_purge_of_one_brand_leaves_the_others_jobs_and_set_aside_events(store: Store) -> None:
    set_aside(store, text_event("k1"))
    set_aside_metric(store, "shop2", "metric:u7")
    set_aside_metric(store, "bolt", "metric:u8")
    assert failed.purge(store, brand="shop2") == 1
    with scope("shop2"):
        assert store.metric_buffer.set_aside_event("metric:u7") is None
    assert [j["ref"] for j in failed.list_failed(store)] == ["klaviyo:k1", "metric:u8"]
    assert failed.purge(store, ["metric:u8"]) == 1      # named: found in bolt's scope
    with scope("bolt"):
        assert store.metric_buffer.set_aside_event("metric:u8") is None
    set_aside_metric(store, "bolt", "metric:u9")
    assert failed.purge(store) == 2 and failed.list_failed(store) == []
    with scope("bolt"):
        assert store.metric_buffer.set_aside_event("metric:u9") is None


def test_replay_many_of_one_brand_replays_only_its_jobs(store: Store) -> None:
    set_aside(store, text_event("k1"))
    set_aside_metric(store, "shop2", "metric:u7")
    published = Published()
    lines = failed.replay_many(store, published, task_for_kind, brand="default")
    assert [line.split(":")[0] for line in lines] == ["klaviyo"] and len(lines) == 1
    assert published.tasks == [("bridge.inbound_sms", "klaviyo:k1")]
