"""The inbound SMS handler with fakes, rules S10 (opt-out in plain words) and S11 (threading
window): the text is never lost, the ticket is tagged in the text's own write, the agent gets
one note per text, and a text to a long-solved ticket opens a new one (E1 across retries)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bridge.domain.model import Conversation
from bridge.domain.opt_out import OPT_OUT_REQUEST_TAG
from bridge.domain.sms_rules import Policy, follows_solved_note, opt_out_request_note
from bridge.errors import FailedAttempt, Retryable
from bridge.handlers.sms_inbound import InboundDeps, handle_inbound
from tests import fakes
from tests.factories import ALICE, SENT_AT, TOLL_FREE, profile, receive, sent_sms, status_changed
from tests.fakes import Clock, FakeKlaviyo, FakeZendesk
from tests.handlers.test_ticket_event import Bridge


class TicketEvents(Bridge):
    """test_ticket_event's Zendesk and bridge, read for the cached conversation."""

    def conversation(self) -> Conversation:
        conv = self.store.conversations.get_conversation(ALICE, TOLL_FREE)
        assert conv is not None
        return conv

ORDER = "Where is my order #1001?"
PLEA = "Got my refund, thanks. Now please don’t text me again!"
HOUR = 3600.0


@pytest.fixture
def deps(zendesk: FakeZendesk, clock: Clock) -> InboundDeps:
    return InboundDeps(store=fakes.store(), zendesk=zendesk, klaviyo=FakeKlaviyo(profile(ALICE)),
                       policy=Policy(solved_reopen_hours=72), clock=clock, sleep=clock.sleep)


def text(deps: InboundDeps, body: str) -> str:
    ref = receive(deps.store, sent_sms(body, sent_at=datetime.fromtimestamp(deps.clock(), UTC)),
                  deps.clock())
    return handle_inbound(ref, deps)


def tickets(zendesk: FakeZendesk) -> list[dict]:
    return sorted(zendesk.tickets.values(), key=lambda t: t["id"])


def timeout(applied: bool) -> Retryable:
    error = Retryable("zendesk", "read timed out")
    error.maybe_applied = applied
    return error


def solved_at(deps: InboundDeps, zendesk: FakeZendesk, ticket_id: int,
              at: float | None) -> None:
    """An agent solves the ticket; its status webhook tells the cache (with the change's time
    when the payload has one)."""
    zendesk.tickets[ticket_id]["status"] = "solved"
    deps.store.conversations.set_ticket_status(ticket_id, ALICE, TOLL_FREE, "solved", at=at)


# --- S10 ----------------------------------------------------------------------------------------
def test_s10_a_plea_that_opens_a_ticket_is_the_comment_and_the_tag_costs_no_call(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    text(deps, PLEA)
    [ticket] = tickets(zendesk)
    assert zendesk.comments_on(ticket["id"]) == [PLEA]
    assert set(ticket["tags"]) == {"sms", OPT_OUT_REQUEST_TAG}
    assert zendesk.notes_on(ticket["id"]) == [opt_out_request_note()]
    assert dict(zendesk.calls) == {"create_or_update_user": 1, "create_ticket": 1,
                                   "add_note": 1}
    assert deps.store.outcomes.counters()["inbound_sms:processed:opt_out_request"] == 1


def test_s10_a_plea_on_an_open_ticket_is_added_and_tagged_in_the_same_put(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    text(deps, ORDER)
    [ticket] = tickets(zendesk)
    zendesk.calls.clear()
    text(deps, "ok. Take me off your list, please")
    assert zendesk.comments_on(ticket["id"]) == [ORDER, "ok. Take me off your list, please"]
    assert OPT_OUT_REQUEST_TAG in ticket["tags"] and "sms" in ticket["tags"]
    assert len(zendesk.notes_on(ticket["id"])) == 1
    assert dict(zendesk.calls) == {"update_ticket": 1, "add_note": 1}


def test_s10_each_plea_gets_its_note_and_an_ordinary_text_none(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    text(deps, PLEA)
    text(deps, ORDER)
    text(deps, "leave me alone")
    [ticket] = tickets(zendesk)
    assert zendesk.comments_on(ticket["id"]) == [PLEA, ORDER, "leave me alone"]
    assert zendesk.notes_on(ticket["id"]) == [opt_out_request_note()] * 2
    assert deps.store.outcomes.counters()["inbound_sms:processed:opt_out_request"] == 2


def test_s10_an_ordinary_text_is_not_tagged(deps: InboundDeps, zendesk: FakeZendesk) -> None:
    text(deps, "Can you text me the tracking link?")
    [ticket] = tickets(zendesk)
    assert OPT_OUT_REQUEST_TAG not in ticket["tags"] and zendesk.notes == []


def test_s10_switched_off_a_plea_is_an_ordinary_comment(deps: InboundDeps,
                                                        zendesk: FakeZendesk) -> None:
    deps.policy = replace(deps.policy, opt_out_phrases=())
    text(deps, PLEA)
    [ticket] = tickets(zendesk)
    assert zendesk.comments_on(ticket["id"]) == [PLEA]
    assert OPT_OUT_REQUEST_TAG not in ticket["tags"] and zendesk.notes == []


def test_s10_a_keyword_is_still_dropped_by_s2_not_noted_as_a_plea(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    text(deps, "STOP texting me")
    assert zendesk.tickets == {}


@pytest.mark.parametrize("landed", [True, False], ids=["note_landed", "note_lost"])
def test_s10_a_note_whose_answer_was_lost_is_on_the_ticket_once_after_the_rerun(
        deps: InboundDeps, zendesk: FakeZendesk, landed: bool) -> None:
    zendesk.fail_next("add_note", timeout(applied=landed), applied=landed)
    ref = receive(deps.store, sent_sms(PLEA), deps.clock())
    with pytest.raises(FailedAttempt):
        handle_inbound(ref, deps)
    handle_inbound(ref, deps)
    [ticket] = tickets(zendesk)
    assert zendesk.comments_on(ticket["id"]) == [PLEA]
    assert zendesk.notes_on(ticket["id"]) == [opt_out_request_note()]
    assert deps.store.outcomes.counters()["inbound_sms:processed:opt_out_request"] == 1


# --- S11 ----------------------------------------------------------------------------------------
def test_s11_a_text_long_after_the_ticket_was_solved_opens_a_new_ticket_with_a_note(
        deps: InboundDeps, zendesk: FakeZendesk, clock: Clock) -> None:
    text(deps, ORDER)
    old = tickets(zendesk)[0]["id"]
    solved_at(deps, zendesk, old, clock())
    clock.advance(73 * HOUR)
    text(deps, "The new pair is too small")
    first, new = tickets(zendesk)
    assert first["status"] == "solved" and zendesk.comments_on(old) == [ORDER]
    assert zendesk.comments_on(new["id"]) == ["The new pair is too small"]
    assert "via_followup_source_id" not in new      # Zendesk allows it for closed tickets only
    assert zendesk.notes_on(new["id"]) == [follows_solved_note(old)]
    assert deps.store.conversations.get_conversation(ALICE, TOLL_FREE).ticket_id == new["id"]
    text(deps, "size 43 please")                    # the conversation goes on in the new one
    assert zendesk.comments_on(new["id"])[-1] == "size 43 please" and len(zendesk.tickets) == 2


def test_s11_a_text_within_the_window_reopens_the_solved_ticket(
        deps: InboundDeps, zendesk: FakeZendesk, clock: Clock) -> None:
    text(deps, ORDER)
    [ticket] = tickets(zendesk)
    solved_at(deps, zendesk, ticket["id"], clock())
    clock.advance(71 * HOUR)
    text(deps, "still broken")
    assert len(zendesk.tickets) == 1 and ticket["status"] == "open"
    assert zendesk.comments_on(ticket["id"]) == [ORDER, "still broken"]


@pytest.mark.parametrize("window", [None, 72.0], ids=["window_unset", "solved_time_unknown"])
def test_s11_unset_or_without_a_solved_time_the_ticket_is_reopened(
        deps: InboundDeps, zendesk: FakeZendesk, clock: Clock, window: float | None) -> None:
    deps.policy = replace(deps.policy, solved_reopen_hours=window)
    text(deps, ORDER)
    [ticket] = tickets(zendesk)
    solved_at(deps, zendesk, ticket["id"], clock() if window is None else None)
    clock.advance(1000 * HOUR)
    text(deps, "still broken")
    assert len(zendesk.tickets) == 1 and ticket["status"] == "open"


def test_s11_a_reopened_ticket_solved_again_counts_from_its_new_solved_time(
        deps: InboundDeps, zendesk: FakeZendesk, clock: Clock) -> None:
    text(deps, ORDER)
    [ticket] = tickets(zendesk)
    solved_at(deps, zendesk, ticket["id"], clock())
    clock.advance(71 * HOUR)
    text(deps, "still broken")                      # reopened
    clock.advance(10 * HOUR)
    solved_at(deps, zendesk, ticket["id"], clock())
    clock.advance(2 * HOUR)
    text(deps, "thanks!")
    assert len(zendesk.tickets) == 1 and ticket["status"] == "open"


def test_s11_a_new_ticket_whose_note_was_lost_gets_it_on_the_rerun_and_no_second_ticket(
        deps: InboundDeps, zendesk: FakeZendesk, clock: Clock) -> None:
    text(deps, ORDER)
    old = tickets(zendesk)[0]["id"]
    solved_at(deps, zendesk, old, clock())
    clock.advance(100 * HOUR)
    zendesk.fail_next("add_note", timeout(applied=False))
    ref = receive(deps.store, sent_sms("new problem"), clock())
    with pytest.raises(FailedAttempt):
        handle_inbound(ref, deps)
    handle_inbound(ref, deps)
    _, new = tickets(zendesk)
    assert len(zendesk.tickets) == 2 and zendesk.comments_on(new["id"]) == ["new problem"]
    assert zendesk.notes_on(new["id"]) == [follows_solved_note(old)]


def test_s10_and_s11_together_the_new_ticket_is_tagged_and_gets_both_notes(
        deps: InboundDeps, zendesk: FakeZendesk, clock: Clock) -> None:
    text(deps, ORDER)
    old = tickets(zendesk)[0]["id"]
    solved_at(deps, zendesk, old, clock())
    clock.advance(100 * HOUR)
    text(deps, PLEA)
    _, new = tickets(zendesk)
    assert OPT_OUT_REQUEST_TAG in new["tags"]
    assert zendesk.notes_on(new["id"]) == [follows_solved_note(old), opt_out_request_note()]


# --- S11: where the solved time comes from --------------------------------------------------------
def test_s11_the_status_webhook_keeps_the_solved_time_from_the_payload_else_its_receipt() -> None:
    bridge = TicketEvents()
    bridge.status_to("solved")
    assert bridge.conversation().solved_at == SENT_AT.timestamp()     # the payload's `time`
    bridge.status_to("open")
    assert bridge.conversation().solved_at is None
    bridge.zendesk.tickets[bridge.ticket_id]["status"] = "solved"
    event = status_changed(bridge.ticket, "open", "solved")
    del event["time"]
    bridge.deliver(event)
    assert bridge.conversation().solved_at == bridge.clock()           # received then
