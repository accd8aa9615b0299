"""E3 without a herd (#14): a job refused by a budget reserves the next free slot and is told
when; a wait longer than a safe countdown parks the ref in `zkb:due`, and beat publishes it
when due. Redis's clock drives the quota, so the waits here are the ones the script answers
(short windows), slept as told: a slow machine only sleeps longer, which the test tolerates."""

from __future__ import annotations

import time

import fakeredis
import pytest

from bridge.adapters import quota as quota_module
from bridge.adapters.quota import Quota
from bridge.domain.model import Budget
from bridge.errors import Deferred, RateLimited, Retryable
from bridge.handlers.bulk_stage import Staged
from tests.factories import comment_added, receive, sms_ticket
from tests.fakes import store
from workers.queues import task_for_kind
from workers.release import RELEASE_AHEAD, release
from workers.retry_policy import MAX_COUNTDOWN, park_for

SPAN = 0.5
TWO_PER_SPAN = Budget("test-messages", ((2, SPAN),))


@pytest.fixture(autouse=True)
def patient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quota_module, "LATE_SECONDS", 60.0)   # a loaded machine is never late


def test_refused_jobs_reserve_the_next_slots_in_the_order_they_asked() -> None:
    r = fakeredis.FakeRedis()
    q = Quota(r)
    assert [q.grant(TWO_PER_SPAN, holder=h)[1] for h in ("a", "b")] == ["a", "b"]
    waits = [q.grant(TWO_PER_SPAN, holder=h)[0] for h in ("c", "d", "e")]
    assert all(0 < w for w in waits)
    slot = {m.decode(): at for m, at in r.zrange(f"zkb:quota:test-messages:{SPAN:g}", 0, -1,
                                                  withscores=True)}
    assert slot["a"] < slot["b"] <= slot["c"] <= slot["d"] < slot["e"]
    assert slot["c"] == pytest.approx(slot["a"] + SPAN) and slot["e"] >= slot["c"] + SPAN
    assert q.grant(TWO_PER_SPAN)[0] > 0   # no newcomer jumps the queue of reservations


def test_a_reservation_asked_for_again_early_is_only_told_to_wait_then_granted_once() -> None:
    q = Quota(fakeredis.FakeRedis())
    q.grant(TWO_PER_SPAN, holder="a")
    q.grant(TWO_PER_SPAN, holder="b")
    wait, _ = q.grant(TWO_PER_SPAN, holder="c")
    assert not q.slot_already_held
    again, granted = q.grant(TWO_PER_SPAN, holder="c")
    assert granted is None and 0 < again <= wait and q.slot_already_held
    time.sleep(again + 0.02)
    assert q.grant(TWO_PER_SPAN, holder="c") == (0.0, "c")


def test_a_reservation_never_used_is_given_up_by_its_late_holder_and_asked_afresh(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quota_module, "LATE_SECONDS", 0.0)
    q = Quota(fakeredis.FakeRedis())
    q.grant(TWO_PER_SPAN, holder="a")
    q.grant(TWO_PER_SPAN, holder="b")
    wait, _ = q.grant(TWO_PER_SPAN, holder="c")
    time.sleep(wait + 0.3)                 # past its slot: given up, then a fresh grant
    assert q.grant(TWO_PER_SPAN, holder="c") == (0.0, "c")


def test_a_wait_past_the_safe_countdown_or_another_events_wait_is_parked() -> None:
    far = Deferred(MAX_COUNTDOWN + 1, "quota reservation")
    assert park_for(far, "zendesk:1") == ("zendesk:1", MAX_COUNTDOWN + 1)
    near = Deferred(5, "quota reservation")
    assert park_for(near, "zendesk:1") is None
    near.ref = "zendesk:0"                 # the head of the ticket's queue waits, not this one
    assert park_for(near, "zendesk:1") == ("zendesk:0", 5)
    assert park_for(RateLimited("klaviyo", 600), "zendesk:1") == ("zendesk:1", 600)
    assert park_for(Retryable("klaviyo", "503"), "zendesk:1") is None


def test_a_text_staged_for_a_bulk_job_waits_parked_never_as_a_countdown() -> None:
    """E6: the drainer wakes it when its job answers; a countdown would only poll it, and a
    flood's thousands of countdowns held by the worker starved its other queues."""
    assert park_for(Staged(60.0, "its comment write waits for a bulk job"),
                    "klaviyo:1") == ("klaviyo:1", 60.0)


def reply_ref(st, comment_id: int) -> str:  # noqa: ANN001
    return receive(st, comment_added(sms_ticket(901), comment_id, "hi", author_id=1), 1000.0)


def test_beat_publishes_a_parked_ref_when_due_with_the_countdown_left() -> None:
    st = store()
    soon, later = reply_ref(st, 1), reply_ref(st, 2)
    assert st.due.park(soon, 1000.5) and st.due.park(later, 1300.0)
    assert not st.due.park(soon, 1900.0)   # parked again: the earlier due time stays
    assert st.due.holding([soon, later, "zendesk:x"]) == {soon, later}
    published: list[tuple[str, str, float]] = []
    assert release(st, lambda *a: published.append(a), 1000.0, task_for_kind) == 1
    assert published == [("bridge.zendesk_event", soon, 0.5)]
    assert st.due.waiting() == 1 and st.due.next_due() == 1300.0
    assert release(st, lambda *a: published.append(a), 1300.0 - RELEASE_AHEAD, task_for_kind)
    assert published[-1][1] == later and st.due.waiting() == 0


def test_a_release_the_broker_refuses_keeps_every_ref_waiting() -> None:
    st = store()
    refs = [reply_ref(st, i) for i in (1, 2)]
    for ref in refs:
        st.due.park(ref, 1000.0)

    def down(task: str, ref: str, countdown: float) -> None:
        raise ConnectionError("broker away")

    with pytest.raises(ConnectionError):
        release(st, down, 1000.0, task_for_kind)
    assert st.due.holding(refs) == set(refs)
