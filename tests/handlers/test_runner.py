"""The runner's bookkeeping (E1-E3), through the inbound handler with fakes: a failing text is
tried again with its count of attempts, set aside in failed jobs when it cannot succeed, and the
texts behind it are not held up; waits for a budget use up nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.domain.sms_rules import Policy
from bridge.errors import (
    CredentialsRefused,
    Deferred,
    FailedAttempt,
    Permanent,
    QueueBusy,
    RateLimited,
    Retryable,
)
from bridge.handlers.runner import Done, Runner
from bridge.handlers.sms_inbound import InboundDeps, handle_inbound
from tests import fakes
from tests.factories import ALICE, profile, receive, sent_sms
from tests.fakes import Clock, FakeKlaviyo, FakeZendesk


@pytest.fixture
def deps(zendesk: FakeZendesk, clock: Clock) -> InboundDeps:
    return InboundDeps(store=fakes.store(), zendesk=zendesk, klaviyo=FakeKlaviyo(profile(ALICE)),
                       policy=Policy(), max_attempts=3, clock=clock, sleep=clock.sleep)


def queue_texts(deps: InboundDeps, *bodies: str) -> list[str]:
    """The customer's texts, received and waiting in their conversation's queue."""
    now = deps.clock()
    return [receive(deps.store, sent_sms(body, sent_at=datetime.fromtimestamp(now + i, UTC)), now)
            for i, body in enumerate(bodies)]


def all_comments(zendesk: FakeZendesk) -> list[str]:
    return [body for tid in zendesk.tickets for body in zendesk.comments_on(tid)]


def state(deps: InboundDeps, ref: str) -> str:
    event = deps.store.events.load_event(ref)
    assert event is not None
    return event["state"]


def server_error() -> Retryable:
    return Retryable("zendesk", "POST tickets answered 503", 503)


# --- E2 attempts and failed jobs ----------------------------------------------------------------
def test_each_failed_attempt_carries_how_many_times_the_text_has_failed(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    [ref] = queue_texts(deps, "hello")
    zendesk.fail_next("create_ticket", server_error(), server_error())
    for expected in (1, 2):
        with pytest.raises(FailedAttempt) as failure:
            handle_inbound(ref, deps)
        assert failure.value.attempts == expected
    handle_inbound(ref, deps)
    assert all_comments(zendesk) == ["hello"]
    assert deps.store.outcomes.failed() == {}


def test_after_max_attempts_a_text_is_set_aside_and_the_next_text_is_applied(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    first, second = queue_texts(deps, "one", "two")
    zendesk.fail_next("create_ticket", *[server_error()] * 3)
    for _ in range(2):
        with pytest.raises(FailedAttempt):
            handle_inbound(first, deps)
    assert all_comments(zendesk) == []               # "two" waits behind "one"
    assert handle_inbound(first, deps) == "done"
    assert all_comments(zendesk) == ["two"]
    assert (state(deps, first), state(deps, second)) == ("failed", "done")
    job = deps.store.outcomes.failed()[first]
    assert (job["error"], job["attempts"], job["task"]) == ("Retryable", 3, "bridge.inbound_sms")


def test_a_permanent_refusal_sets_the_text_aside_at_once(deps: InboundDeps,
                                                        zendesk: FakeZendesk) -> None:
    first, _ = queue_texts(deps, "one", "two")
    zendesk.fail_next("create_or_update_user",
                      Permanent("zendesk", "Email: alice@example is invalid", 422))
    assert handle_inbound(first, deps) == "done"
    assert all_comments(zendesk) == ["two"]
    assert deps.store.outcomes.failed()[first]["attempts"] == 1
    assert deps.store.outcomes.counters()["inbound_sms:failed:Permanent"] == 1


def test_a_replayed_text_that_succeeds_leaves_the_failed_jobs(deps: InboundDeps,
                                                             zendesk: FakeZendesk,
                                                             clock: Clock) -> None:
    [ref] = queue_texts(deps, "hello")
    zendesk.fail_next("create_ticket", Permanent("zendesk", "422", 422))
    handle_inbound(ref, deps)
    assert deps.store.events.reopen_event(ref, clock())
    handle_inbound(ref, deps)
    assert all_comments(zendesk) == ["hello"]
    assert deps.store.outcomes.failed() == {}


# --- E3 waiting is not failing ------------------------------------------------------------------
def test_rate_limits_do_not_use_up_a_texts_attempts(deps: InboundDeps,
                                                    zendesk: FakeZendesk) -> None:
    [ref] = queue_texts(deps, "hello")
    zendesk.fail_next("create_ticket", *[RateLimited("zendesk", 10)] * 5)
    for _ in range(5):                               # more waits than max_attempts
        with pytest.raises(RateLimited):
            handle_inbound(ref, deps)
    handle_inbound(ref, deps)
    assert all_comments(zendesk) == ["hello"]
    assert "attempts" not in (deps.store.events.load_event(ref) or {})


def test_a_deferred_event_waits_without_using_up_attempts(clock: Clock) -> None:
    store, outcomes = fakes.store(), iter([Deferred(5, "budget")] * 4 + [Done("applied")])

    def process(ref: str, event: dict) -> Done:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
    runner = Runner(store=store, kind="inbound_sms", source="klaviyo", task="bridge.inbound_sms",
                    process=process, max_attempts=2, clock=clock, sleep=clock.sleep)
    ref = receive(store, sent_sms("hello"), clock())
    for _ in range(4):
        with pytest.raises(Deferred):
            runner.run_event(ref)
    assert runner.run_event(ref) == "done"
    assert store.events.load_event(ref)["state"] == "done"          # type: ignore[index]
    assert store.outcomes.failed() == {}


# --- E1 duplicates and busy queues --------------------------------------------------------------
def test_a_finished_texts_task_run_again_changes_nothing(deps: InboundDeps,
                                                        zendesk: FakeZendesk) -> None:
    [ref] = queue_texts(deps, "hello")
    handle_inbound(ref, deps)
    calls = sum(zendesk.calls.values())
    assert handle_inbound(ref, deps) == "already_done"
    assert sum(zendesk.calls.values()) == calls
    assert all_comments(zendesk) == ["hello"]


def test_a_task_whose_event_expired_is_dropped_and_counted(deps: InboundDeps) -> None:
    assert handle_inbound("klaviyo:gone", deps) == "dropped:event_missing"
    assert deps.store.outcomes.counters()["inbound_sms:dropped:event_missing"] == 1


def test_a_queue_held_by_another_worker_is_left_to_that_worker(deps: InboundDeps,
                                                              zendesk: FakeZendesk) -> None:
    [ref] = queue_texts(deps, "hello")
    queue = deps.store.events.load_event(ref)["queue"]              # type: ignore[index]
    held = deps.store.queues.queue_lock(queue)
    assert held.acquire()
    with pytest.raises(QueueBusy):
        handle_inbound(ref, deps)
    assert zendesk.tickets == {}
    held.release()
    handle_inbound(ref, deps)
    assert all_comments(zendesk) == ["hello"]


def test_a_refused_zendesk_oauth_client_holds_texts_without_using_up_attempts(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    """A wrong ZENDESK_OAUTH_CLIENT_SECRET is the operator's to fix, not the text's fault (#12):
    the text waits, however long it takes, and lands once the setting is fixed."""
    refused = CredentialsRefused("zendesk", "Zendesk OAuth refused the client credentials "
                                            "(invalid_client)")
    zendesk.fail_next("create_or_update_user", *[refused] * (deps.max_attempts + 2))
    [ref] = queue_texts(deps, "hello?")
    for _ in range(deps.max_attempts + 2):
        with pytest.raises(CredentialsRefused):
            handle_inbound(ref, deps)
    assert handle_inbound(ref, deps) == "done"
    assert all_comments(zendesk) == ["hello?"]
    assert deps.store.outcomes.failed() == {}
    assert "attempts" not in deps.store.events.load_event(ref)      # type: ignore[operator]
