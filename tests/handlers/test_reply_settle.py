"""A6 exactly once when Klaviyo does not answer a send (handlers/reply_settle.py), and the
delivery notes (notes.delivery_note): the reply is looked for (its received_sms echo, a
`Received SMS` event on the profile) for REPLY_CONFIRM_SECONDS; found -> sent, Klaviyo answering
with no trace -> sent once more, Klaviyo unreachable -> one note and a replayable failed job.
Fakes and the real stores on fakeredis, with the test clock (tests/handlers/test_agent_reply.py's
`Desk`)."""

from __future__ import annotations

import pytest

from bridge.errors import Deferred, FailedAttempt, Retryable
from bridge.handlers.campaign_note import CampaignDeps
from bridge.handlers.campaign_note import runner as campaign_runner
from tests import factories
from tests.factories import ALICE, receive
from tests.handlers.test_agent_reply import CONVERSATION, Desk, maybe_sent


def unanswered(desk: Desk, *, went_out: bool = True) -> str:
    """An agent reply whose send Klaviyo never answered (it did go out, unless `went_out` is
    False); returns its ref, after the attempt that starts settling it (A6)."""
    desk.klaviyo.fail_next("send_conversation_message", maybe_sent(), applied=went_out)
    ref = desk.comment(7001)
    with pytest.raises(Deferred):          # no attempt used: it looks for the send first
        desk.run(ref)
    return ref


def settle_to_the_end(desk: Desk, ref: str) -> None:
    """Run the task as its waits end until it stops waiting (settled or set aside)."""
    for _ in range(20):
        try:
            desk.run(ref)
            return
        except Deferred as wait:
            desk.clock.advance(wait.retry_after)
    raise AssertionError("still waiting after 20 runs")


def test_a6_an_unanswered_send_whose_echo_comes_back_is_recorded_as_sent() -> None:
    desk = Desk()
    desk.klaviyo.events_delayed = True
    ref = unanswered(desk)
    desk.clock.advance(3)
    desk.store.ledger.remember_echo(ALICE, "Your order shipped today.", desk.clock())
    assert desk.run(ref) == "done"
    assert desk.sms == ["Your order shipped today."]
    assert desk.store.outcomes.counters()["agent_reply:settled:sent"] == 1
    assert desk.store.outcomes.failed() == {} and desk.notes == []


def test_a6_the_received_sms_echo_of_a_conversation_message_settles_an_unanswered_send(
        ) -> None:
    """The echo goes through the received_sms handler (campaign_note), which records it."""
    desk = Desk()
    desk.klaviyo.events_delayed = True
    ref = unanswered(desk)
    desk.clock.advance(4)
    echo = receive(desk.store, factories.received_sms("Your order shipped today.",
                                                      campaign=None), desk.clock())
    campaign_runner(CampaignDeps(store=desk.store, zendesk=desk.zendesk,
                                 clock=desk.clock)).run_event(echo)
    desk.clock.advance(10)
    assert desk.run(ref) == "done"
    assert desk.sms == ["Your order shipped today."]
    assert desk.klaviyo.calls["send_conversation_message"] == 1


def test_a6_an_unanswered_send_found_in_the_profiles_events_is_not_sent_again() -> None:
    desk = Desk()
    ref = unanswered(desk)
    desk.clock.advance(15)
    assert desk.run(ref) == "done"
    assert desk.sms == ["Your order shipped today."]
    assert desk.store.ledger.reply_state(7001)["state"] == "sent"


def test_a6_an_unanswered_send_that_never_went_out_is_sent_once_more_after_the_window() -> None:
    desk = Desk()
    ref = unanswered(desk, went_out=False)
    for _ in range(5):                     # looked for while the window lasts: not there
        desk.clock.advance(20)
        with pytest.raises(Deferred):
            desk.run(ref)
    assert desk.sms == []
    desk.clock.advance(25)
    assert desk.run(ref) == "done"
    assert desk.sms == ["Your order shipped today."]
    assert desk.store.outcomes.counters()["agent_reply:settled:resent"] == 1


def test_a6_evidence_60_s_late_still_means_no_second_sms() -> None:
    desk = Desk()
    desk.klaviyo.events_delayed = True
    ref = unanswered(desk)
    for _ in range(3):
        desk.clock.advance(20)
        with pytest.raises(Deferred):
            desk.run(ref)
    desk.klaviyo.events_delayed = False    # Klaviyo records the Received SMS a minute late
    desk.clock.advance(20)
    assert desk.run(ref) == "done"
    assert desk.sms == ["Your order shipped today."]


def test_a6_klaviyo_unreachable_throughout_means_one_note_and_a_replayable_failed_job() -> None:
    desk = Desk()
    ref = unanswered(desk)
    desk.klaviyo.fail_next("received_sms_since",
                           *[Retryable("klaviyo", "connect timeout") for _ in range(20)])
    for _ in range(12):                    # the window, then three look-ups after it
        desk.clock.advance(20)
        desk.klaviyo.fail_next("received_sms_since", Retryable("klaviyo", "timeout"))
        try:
            desk.run(ref)
        except Deferred:
            continue
    assert desk.sms == ["Your order shipped today."]          # once: never sent twice
    failure = desk.store.outcomes.failed()[ref]
    assert failure["error"] == "ReplyOutcomeUnknown" and failure["replayable"] is True
    assert desk.store.outcomes.counters()["agent_reply:outcome_unknown:"] == 1
    assert len(desk.notes) == 1 and "Replay it from the ops page" in desk.notes[0]
    desk.klaviyo._failures.clear()         # Klaviyo is back; an operator replays the job
    assert desk.store.events.reopen_event(ref, desk.clock())
    assert desk.run(ref) == "done"
    assert desk.sms == ["Your order shipped today."] and len(desk.notes) == 1


def test_a6_a_reply_a_dead_worker_was_sending_long_ago_is_settled_not_sent_twice() -> None:
    desk = Desk()
    desk.store.ledger.begin_reply(7001, desk.clock() - 3600, profile_id=desk.customer.id)
    desk.klaviyo.sent.append((CONVERSATION, "Your order shipped today."))   # it did go out
    assert desk.run(desk.comment(7001)) == "done"
    assert desk.sms == ["Your order shipped today."]
    assert desk.notes == []


def test_a6_an_old_sending_record_without_a_profile_is_not_sent_twice() -> None:
    """Records written before the look-ups existed name no profile: only the echo can settle
    them, so once the window has passed the agent is told."""
    desk = Desk()
    desk.store.ledger.begin_reply(7001, desk.clock() - 3600)
    ref = desk.comment(7001)
    settle_to_the_end(desk, ref)
    assert desk.sms == []
    assert desk.store.outcomes.failed()[ref]["error"] == "ReplyOutcomeUnknown"
    assert len(desk.notes) == 1


def test_a_note_whose_answer_was_lost_on_a_150_comment_ticket_is_left_once() -> None:
    """The re-run looks for the note newest first, so a long ticket does not hide it (#14)."""
    desk = Desk(customer=factories.profile(ALICE, consented=False))
    for i in range(150):
        desk.zendesk._comment(desk.ticket_id, {"body": f"message {i}", "author_id": desk.agent})
    desk.zendesk.fail_next("add_note", Retryable("zendesk", "read timed out"), applied=True)
    ref = desk.comment(7001)
    with pytest.raises(FailedAttempt):
        desk.run(ref)
    desk.run(ref)
    assert len(desk.notes) == 1
    assert desk.zendesk.calls["comments_newest_first"] == 1


def test_a_reply_klaviyo_refuses_for_good_leaves_one_note_saying_why() -> None:
    desk = Desk()
    del desk.klaviyo.conversations[desk.customer.id]     # no SMS conversation in Klaviyo
    ref = desk.comment(7001)
    desk.run(ref)
    assert desk.sms == []
    assert desk.store.outcomes.failed()[ref]["error"] == "Permanent"
    assert len(desk.notes) == 1 and "no SMS conversation" in desk.notes[0]
    desk.store.events.reopen_event(ref, desk.clock())
    desk.run(ref)
    assert len(desk.notes) == 1


def test_a6_a_reply_that_failed_for_good_does_not_block_the_ones_after_it() -> None:
    desk = Desk()
    desk.store.ledger.begin_reply(7001, desk.clock() - 3600)   # unsettled since long ago
    first = desk.comment(7001, "Let me check.")
    desk.comment(7002, "It arrives Friday.")
    settle_to_the_end(desk, first)
    assert desk.sms == ["It arrives Friday."]
    assert list(desk.store.outcomes.failed()) == [first]
