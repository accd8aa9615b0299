"""Held agent replies through the handler (A8 quiet hours, S10 opt-out requests), with fake
Zendesk and Klaviyo and the real stores on fakeredis: a held reply waits parked in `zkb:due`
(not in a worker), leaves one note, keeps the replies behind it in order, costs no attempt,
and goes out when its window ends, when `sms_send_now` is added, or when the opt-out request's
tag is removed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from bridge.domain.opt_out import OPT_OUT_REQUEST_TAG
from bridge.domain.quiet_hours import QuietHours, parse
from bridge.domain.reply_holds import SEND_NOW_TAG
from bridge.errors import Deferred
from bridge.handlers.reply_hold import OPT_OUT_RECHECK, HoldPolicy, release_runner
from tests.factories import comment_added, receive, sms_ticket, tags_changed
from tests.handlers.test_agent_reply import Desk

# The fakes' clock starts at 1_800_000_000: 2027-01-15 08:00 UTC. The sandbox customers'
# numbers (+1 500) name no single zone, so the fallback zone (UTC here) is theirs.
NOW = 1_800_000_000.0
MORNING = parse("07:00-09:00", "UTC")        # ends an hour from the start of each test
EVENING = parse("21:00-07:00", "UTC")        # not quiet now


@dataclass
class QuietDesk(Desk):
    """Desk (test_agent_reply.py) with quiet hours, and comments that carry the ticket's tags
    as Zendesk's event does (`detail.tags`)."""

    quiet: QuietHours | None = MORNING

    def __post_init__(self) -> None:
        super().__post_init__()
        self.deps.holds = HoldPolicy(quiet=self.quiet)

    def comment(self, comment_id: int, body: str = "Your order shipped today.", *,
                author: int | None = None, **kw: Any) -> str:
        ticket = sms_ticket(self.ticket_id, requester_id=self.requester, tags=self.tags)
        data = comment_added(ticket, comment_id, body, author_id=author or self.agent, **kw)
        return receive(self.store, data, self.clock())

    @property
    def tags(self) -> list[str]:
        return self.zendesk.tickets[self.ticket_id]["tags"]

    def tag(self, *, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> str:
        """An agent changes the ticket's tags; Zendesk sends `ticket.tags_changed`, which the
        bridge handles; returns the outcome."""
        tags = [t for t in self.tags if t not in remove] + [t for t in add if t not in self.tags]
        self.zendesk.tickets[self.ticket_id]["tags"] = tags
        data = tags_changed(sms_ticket(self.ticket_id, tags=tags), added=add, removed=remove)
        ref = receive(self.store, data, self.clock())
        return release_runner(self.store, self.clock, 8).run_event(ref)

    def held(self, ref: str) -> float:
        """When beat will publish the parked ref (it must be parked)."""
        due = dict(self.store.due.take_due(float("inf")))
        for parked, at in due.items():
            self.store.due.park(parked, at)
        return due[ref]

    def run_held(self, ref: str) -> Deferred:
        with pytest.raises(Deferred) as held:
            self.run(ref)
        return held.value


# --- A8 quiet hours -----------------------------------------------------------------------------

def test_a8_a_reply_written_in_quiet_hours_is_held_with_one_note_until_the_window_ends() -> None:
    desk = QuietDesk()
    ref = desk.comment(7001)
    held = desk.run_held(ref)
    assert desk.sms == []
    assert held.scheduled and desk.held(ref) == NOW + 3600     # parked in zkb:due, 09:00
    [note] = desk.notes
    assert "09:00 on Fri 15 Jan (UTC)" in note and "sms_send_now" in note and "A8" in note
    desk.clock.advance(1800)
    desk.run_held(ref)                       # looked at again early: still held, no new note
    assert desk.sms == [] and len(desk.notes) == 1
    desk.clock.advance(1800)
    assert desk.run(ref) == "done"
    assert desk.sms == ["Your order shipped today."]
    assert len(desk.notes) == 1


def test_a8_a_held_reply_uses_no_attempt_and_is_not_a_failure() -> None:
    desk = QuietDesk()
    ref = desk.comment(7001)
    for _ in range(12):                       # more than MAX_ATTEMPTS wake-ups
        desk.run_held(ref)
    event = desk.store.events.load_event(ref)
    assert event is not None and "attempts" not in event and event["state"] != "failed"
    assert desk.store.outcomes.failed() == {}


def test_a8_replies_behind_a_held_reply_wait_and_go_out_in_comment_order() -> None:
    desk = QuietDesk()
    first, second = desk.comment(7001, "first"), desk.comment(7002, "second")
    desk.run_held(second)                     # the later reply's task finds the head held
    assert desk.sms == [] and len(desk.notes) == 1
    desk.clock.advance(3600)
    assert desk.run(first) == "done"
    assert desk.sms == ["first", "second"]


def test_a8_adding_sms_send_now_sends_the_held_replies_at_once_in_order() -> None:
    desk = QuietDesk()
    first = desk.comment(7001, "first")
    desk.comment(7002, "second")
    desk.run_held(first)
    assert desk.tag(add=(SEND_NOW_TAG,)) == "applied:released"
    assert desk.held(first) == desk.clock()       # due now: beat publishes it within a second
    assert desk.run(first) == "done"              # still quiet hours
    assert desk.sms == ["first", "second"]


def test_a8_a_tags_change_that_does_not_end_the_hold_leaves_it_parked() -> None:
    desk = QuietDesk()
    ref = desk.comment(7001)
    desk.run_held(ref)
    assert desk.tag(add=("vip",)) == "dropped:still_held"
    assert desk.held(ref) == NOW + 3600


def test_a8_a_reply_on_a_ticket_already_tagged_send_now_is_sent_with_no_extra_call() -> None:
    desk = QuietDesk()
    desk.zendesk.tickets[desk.ticket_id]["tags"] = ["sms", SEND_NOW_TAG]
    assert desk.run(desk.comment(7001)) == "done"
    assert desk.sms == ["Your order shipped today."] and desk.notes == []
    assert desk.zendesk.calls["ticket_with_people"] == 0


def test_a8_outside_quiet_hours_a_reply_costs_the_calls_it_costs_without_them() -> None:
    desks = QuietDesk(quiet=EVENING), QuietDesk(quiet=None)
    for desk in desks:
        assert desk.run(desk.comment(7001)) == "done"
        assert desk.sms == ["Your order shipped today."]
    assert desks[0].zendesk.calls == desks[1].zendesk.calls
    assert desks[0].klaviyo.calls == desks[1].klaviyo.calls


# --- S10 opt-out requests -----------------------------------------------------------------------

def test_s10_a_reply_to_a_customer_who_asked_to_stop_is_held_until_the_tag_is_removed() -> None:
    desk = QuietDesk(quiet=None)
    desk.zendesk.tickets[desk.ticket_id]["tags"] = ["sms", OPT_OUT_REQUEST_TAG]
    ref = desk.comment(7001)
    desk.run_held(ref)
    [note] = desk.notes
    assert "S10" in note and OPT_OUT_REQUEST_TAG in note
    assert desk.held(ref) == desk.clock() + OPT_OUT_RECHECK
    assert desk.tag(remove=(OPT_OUT_REQUEST_TAG,)) == "applied:released"
    assert desk.run(ref) == "done"
    assert desk.sms == ["Your order shipped today."] and len(desk.notes) == 1


def test_s10_send_now_does_not_answer_an_opt_out_request() -> None:
    desk = QuietDesk()
    desk.zendesk.tickets[desk.ticket_id]["tags"] = ["sms", OPT_OUT_REQUEST_TAG, SEND_NOW_TAG]
    desk.run_held(desk.comment(7001))
    assert desk.sms == [] and "S10" in desk.notes[0]


def test_s10_a_held_request_is_looked_at_again_every_15_minutes_without_a_new_note() -> None:
    desk = QuietDesk(quiet=None)
    desk.zendesk.tickets[desk.ticket_id]["tags"] = ["sms", OPT_OUT_REQUEST_TAG]
    ref = desk.comment(7001)
    desk.run_held(ref)
    desk.clock.advance(OPT_OUT_RECHECK)
    desk.store.due.take_due(desk.clock())        # beat publishes it
    desk.run_held(ref)
    assert desk.held(ref) == desk.clock() + OPT_OUT_RECHECK
    assert desk.sms == [] and len(desk.notes) == 1


def test_s10_a_removal_the_webhook_missed_is_found_by_the_re_check() -> None:
    desk = QuietDesk(quiet=None)
    desk.zendesk.tickets[desk.ticket_id]["tags"] = ["sms", OPT_OUT_REQUEST_TAG]
    ref = desk.comment(7001)
    desk.run_held(ref)
    desk.zendesk.tickets[desk.ticket_id]["tags"] = ["sms"]    # no tags_changed arrives
    desk.clock.advance(OPT_OUT_RECHECK)
    assert desk.run(ref) == "done"
    assert desk.sms == ["Your order shipped today."]


def test_s10_unsubscribing_the_customer_turns_the_held_reply_into_the_a4_note() -> None:
    desk = QuietDesk(quiet=None)
    desk.zendesk.tickets[desk.ticket_id]["tags"] = ["sms", OPT_OUT_REQUEST_TAG]
    ref = desk.comment(7001)
    desk.run_held(ref)
    customer = desk.klaviyo.profiles[desk.customer.id]
    desk.klaviyo.profiles[customer.id] = replace(customer, can_receive_sms=False)
    desk.clock.advance(OPT_OUT_RECHECK)
    assert desk.run(ref) == "done"
    assert desk.sms == []
    assert "S10" in desk.notes[0] and "A4" in desk.notes[1]


def test_s10_a_request_tagged_during_the_night_holds_the_reply_when_the_window_ends() -> None:
    desk = QuietDesk()
    ref = desk.comment(7001)
    desk.run_held(ref)
    desk.zendesk.tickets[desk.ticket_id]["tags"] = ["sms", OPT_OUT_REQUEST_TAG]   # a text
    desk.clock.advance(3600)
    desk.run_held(ref)
    assert desk.sms == []
    assert "A8" in desk.notes[0] and "S10" in desk.notes[1]


def test_a_tags_change_on_a_ticket_with_nothing_held_does_nothing() -> None:
    desk = QuietDesk()
    assert desk.tag(add=(SEND_NOW_TAG,)) == "dropped:nothing_held"
    assert desk.store.due.waiting() == 0
