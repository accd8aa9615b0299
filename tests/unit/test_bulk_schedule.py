"""E6: what keeps the bulk drainer quick during a flood. Beat's schedule for it (workers/beat.py
`WhenStaged`): every second while customers' texts wait to be packed into a bulk job (a staged
text waits about that long for its job), every `run_every` while only jobs are in flight, never
on a quiet system. And its reserve (bridge/budgets.py BULK_RESERVE): a text's single write that
could be staged stops at half of each Zendesk window, so the drainer finds room, and the
drainer's own calls are paced to 3/4 of the limit in any 10 s, so it never locks itself out.
Texts are staged, not written single, while others wait to be packed or are in a job."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import fakeredis
import pytest

from bridge.adapters.quota import Quota
from bridge.adapters.store import Store
from bridge.budgets import background_lane, later_jobs, stageable_write, zendesk_budgets
from bridge.config import Settings
from workers import beat


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    s = Store(fakeredis.FakeRedis())
    monkeypatch.setattr(beat, "_store", lambda: s)
    return s


def ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


def schedule() -> beat.WhenStaged:
    return beat.WhenStaged(2.0, nowfun=lambda: datetime.now(UTC))


def test_with_no_backlog_the_drainer_is_never_due(store: Store) -> None:
    assert schedule().is_due(ago(3600)) == (False, beat.PACK_EVERY)


def test_while_texts_wait_to_be_packed_the_drainer_runs_every_second(store: Store) -> None:
    store.bulk.stage("klaviyo:1", "comment", {"ticket_id": 7}, 0.0)
    assert schedule().is_due(ago(1.2)) == (True, beat.PACK_EVERY)
    due, next_check = schedule().is_due(ago(0.4))
    assert not due and 0 < next_check <= beat.PACK_EVERY


def test_while_only_jobs_are_in_flight_it_runs_every_run_every(store: Store) -> None:
    item = {"ref": "klaviyo:1", "kind": "comment", "payload": {"ticket_id": 7}, "at": 0.0}
    store.bulk.stage(item["ref"], "comment", item["payload"], 0.0)
    assert store.bulk.open_batch("b1", "comment", store.bulk.staged("comment", 10), 0.0)
    assert store.bulk.waiting() == 0 and store.bulk.backlog() == 1
    assert not schedule().is_due(ago(1.2)).is_due
    assert schedule().is_due(ago(2.1)).is_due


@pytest.mark.parametrize(("kind", "busy"), [("comment", True), ("ticket", True),
                                             ("requester", True), ("note", False)])
def test_a_job_of_texts_in_flight_sends_texts_to_bulk_and_a_notes_job_does_not(
        store: Store, kind: str, busy: bool) -> None:
    assert not store.bulk.texts_in_bulk()
    store.bulk.stage("klaviyo:1", kind, {"ticket_id": 7}, 0.0)
    assert store.bulk.texts_in_bulk() is busy          # waiting to be packed
    assert store.bulk.open_batch("b1", kind, store.bulk.staged(kind, 10), 0.0)
    assert store.bulk.waiting() == 0
    assert store.bulk.texts_in_bulk() is busy          # in a job in flight


def test_the_schedule_survives_beats_schedule_file() -> None:
    again = pickle.loads(pickle.dumps(beat.WhenStaged(2.0, pack_every=0.5)))
    assert again.run_every.total_seconds() == 2.0 and again.pack_every == 0.5


# --- the drainer's reserve (bridge/budgets.py BULK_RESERVE) -------------------------------------
def test_a_stageable_write_leaves_the_drainer_half_of_each_zendesk_window() -> None:
    table = zendesk_budgets(Settings(
        zendesk_url="https://acme.zendesk.com", zendesk_webhook_secret="s" * 20,
        klaviyo_api_key="pk_" + "k" * 20, klaviyo_webhook_secret="s" * 20,
        zendesk_requests_per_minute=200, zendesk_updates_per_minute=100))

    def limits(endpoint: str) -> list[int]:
        return [b.windows[-1][0] for b in table(endpoint)]

    assert limits("PUT tickets/{id}") == [199, 99]               # replies, reads, not staged
    with stageable_write():
        assert limits("PUT tickets/{id}") == [99, 49]            # a text that may be staged
        with background_lane():
            assert limits("GET tickets/{id}") == [149]           # background keeps its share
    # the drainer: the whole window, paced to 3/4 of the limit in any 10 s
    assert limits("POST tickets/create_many") == [199, 25]
    assert limits("PUT tickets/update_many") == [199, 99, 25]
    assert limits("GET job_statuses/show_many") == [199, 25]
    with later_jobs():      # new conversations' and notes' jobs: 60% of that pace
        assert limits("POST tickets/create_many") == [199, 15]


def test_the_drainers_pace_lets_a_burst_wait_seconds_not_a_minute() -> None:
    table = zendesk_budgets(Settings(
        zendesk_url="https://acme.zendesk.com", zendesk_webhook_secret="s" * 20,
        klaviyo_api_key="pk_" + "k" * 20, klaviyo_webhook_secret="s" * 20,
        zendesk_requests_per_minute=200))
    quota = Quota(fakeredis.FakeRedis())
    granted = [quota.take(*table("POST tickets/create_many")) for _ in range(30)]
    assert granted[:25] == [0.0] * 25
    assert all(0 < wait <= 10.2 for wait in granted[25:])
