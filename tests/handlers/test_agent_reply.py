"""Agent replies (A1-A6) through the handler, with fake Zendesk and Klaviyo and the real stores on
fakeredis: which comments become an SMS, which leave a note instead, and that each becomes at
most one SMS, in comment order, whatever the retries."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from bridge.adapters.quota import GUARD_SECONDS
from bridge.adapters.store import Store
from bridge.domain.model import Budget, Conversation, Profile, conversation_external_id
from bridge.errors import Deferred, FailedAttempt, Retryable
from bridge.handlers.agent_reply import ReplyDeps, process_comment, runner
from bridge.handlers.runner import Done
from tests import factories
from tests.factories import ALICE, TOLL_FREE, comment_added, receive, sms_ticket
from tests.fakes import Clock, FakeKlaviyo, FakeZendesk, store

CONVERSATION = "conv-alice"
MESSAGES = Budget("klaviyo-conversation-messages", ((100, 60.0),))


@dataclass
class Desk:
    """One SMS ticket: Alice texted the toll-free number; Bo is the agent answering."""

    customer: Profile = field(default_factory=lambda: factories.profile(ALICE))
    mode: str = "conversations"
    budget: Budget = MESSAGES

    def __post_init__(self) -> None:
        self.clock = Clock()
        self.store: Store = store()
        self.zendesk = FakeZendesk()
        self.klaviyo = FakeKlaviyo(self.customer)
        self.klaviyo.conversations[self.customer.id] = CONVERSATION
        self.agent = self.zendesk.add_user("Bo", email="bo@shop.test", role="agent")
        self.requester = self.zendesk.add_user("Alice", phone=ALICE)
        self.ticket_id = self.zendesk.add_ticket(
            requester_id=self.requester, external_id=conversation_external_id(ALICE, TOLL_FREE))
        self.deps = ReplyDeps(store=self.store, zendesk=self.zendesk, klaviyo=self.klaviyo,
                              quota=self.store.quota, budget=self.budget, mode=self.mode,
                              clock=self.clock, sleep=self.clock.sleep)

    def comment(self, comment_id: int, body: str = "Your order shipped today.", *,
                author: int | None = None, **kw: Any) -> str:
        """Zendesk reports a comment on the ticket; returns the stored event's ref."""
        ticket = sms_ticket(self.ticket_id, requester_id=self.requester)
        data = comment_added(ticket, comment_id, body, author_id=author or self.agent, **kw)
        return receive(self.store, data, self.clock())

    def process(self, ref: str) -> Done:
        """One attempt of the handler on a stored event (as a task retry would make it)."""
        event = self.store.events.load_event(ref)
        assert event is not None
        return process_comment(ref, event, self.deps)

    def run(self, ref: str) -> str:
        """The task: the event and every reply before it in the ticket's queue."""
        return runner(self.deps).run_event(ref)

    @property
    def sms(self) -> list[str]:
        return [body for conversation, body in self.klaviyo.sent if conversation == CONVERSATION]

    @property
    def notes(self) -> list[str]:
        return self.zendesk.notes_on(self.ticket_id)


def maybe_sent(message: str = "read timed out") -> Retryable:
    error = Retryable("klaviyo", message)
    error.maybe_applied = True
    return error


# --- A1 / A2 which comments are sent --------------------------------------------------------

def test_a1_a_public_agent_comment_is_sent_to_the_customer_as_an_sms() -> None:
    desk = Desk()
    assert desk.process(desk.comment(7001)).outcome == "applied"
    assert desk.sms == ["Your order shipped today."]
    assert desk.notes == []


def test_a1_an_internal_note_is_never_sent() -> None:
    desk = Desk()
    done = desk.process(desk.comment(7001, "Customer is a VIP", public=False))
    assert done == Done("dropped", "internal_note")
    assert desk.sms == []


def test_a1_the_customers_own_comment_is_not_sent_back_to_them() -> None:
    desk = Desk()
    done = desk.process(desk.comment(7001, "Where is my order?", author=desk.requester,
                                     staff=False))
    assert done == Done("dropped", "customer_comment")
    assert desk.sms == []


def test_a1_a_comment_on_a_ticket_that_is_no_sms_conversation_is_not_sent() -> None:
    desk = Desk()
    data = comment_added({"id": 999, "requester_id": desk.requester}, 7001, "Hello",
                         author_id=desk.agent)
    done = desk.process(receive(desk.store, data, desk.clock()))
    assert done == Done("dropped", "not_sms_ticket")
    assert desk.sms == []


def test_a1_a_ticket_known_from_the_conversation_cache_is_replied_to() -> None:
    """The event lacks the external_id (edited by an agent, say); the bridge's map knows it."""
    desk = Desk()
    desk.store.conversations.put_conversation(
        Conversation(ALICE, TOLL_FREE, ticket_id=desk.ticket_id, ticket_status="open"))
    data = comment_added({"id": desk.ticket_id, "requester_id": desk.requester}, 7001, "Hi Alice",
                         author_id=desk.agent)
    desk.process(receive(desk.store, data, desk.clock()))
    assert desk.sms == ["Hi Alice"]


def test_a2_a_comment_whose_id_the_bridge_wrote_is_not_sent_back() -> None:
    desk = Desk()
    desk.store.ledger.remember_own_comment(7001)
    assert desk.process(desk.comment(7001)) == Done("dropped", "own_comment")
    assert desk.sms == []


def test_a2_a_text_the_bridge_posted_in_an_agent_requesters_name_is_not_sent_back() -> None:
    """A3's case: the texting customer is an agent, so their texts arrive as staff comments."""
    desk = Desk()
    desk.store.ledger.remember_posted(desk.agent, "Is my order late?")
    desk.zendesk.tickets[desk.ticket_id]["requester_id"] = desk.agent
    data = comment_added(sms_ticket(desk.ticket_id, requester_id=desk.agent), 7001,
                         "Is my order late?", author_id=desk.agent, staff=True)
    assert desk.process(receive(desk.store, data, desk.clock())) == Done("dropped", "own_comment")
    assert desk.sms == []
    assert desk.notes == []


# --- A3 same email, A4 consent and attachments ----------------------------------------------

def test_a3_a_reply_by_the_agent_whose_email_the_customer_has_becomes_one_note() -> None:
    desk = Desk(customer=factories.profile(ALICE, email="BO@shop.test"))
    ref = desk.comment(7001)
    desk.process(ref)
    desk.process(ref)    # the task ran again (a worker died before marking it done)
    assert desk.sms == []
    assert len(desk.notes) == 1 and "A3" in desk.notes[0]


def test_a3_an_agent_texting_as_the_requester_gets_a_note_for_a_typed_reply() -> None:
    desk = Desk(customer=factories.profile(ALICE, email="bo@shop.test"))
    desk.zendesk.tickets[desk.ticket_id]["requester_id"] = desk.agent
    data = comment_added(sms_ticket(desk.ticket_id, requester_id=desk.agent), 7001,
                         "Testing from my phone", author_id=desk.agent, staff=True)
    done = desk.process(receive(desk.store, data, desk.clock()))
    assert done.reason == "same_email"
    assert desk.sms == [] and len(desk.notes) == 1


def test_a4_a_customer_who_opted_out_gets_no_sms_and_the_agent_one_note() -> None:
    desk = Desk(customer=factories.profile(ALICE, consented=False))
    ref = desk.comment(7001)
    desk.process(ref)
    desk.process(ref)
    assert desk.sms == []
    assert len(desk.notes) == 1 and "A4" in desk.notes[0]


def test_a4_an_attachment_only_reply_becomes_a_note() -> None:
    desk = Desk()
    desk.process(desk.comment(7001, "", attachments=("label.pdf",)))
    assert desk.sms == []
    assert len(desk.notes) == 1 and "1 attachment" in desk.notes[0]


def test_a4_a_reply_with_attachments_sends_its_text_and_notes_the_files_once() -> None:
    desk = Desk()
    ref = desk.comment(7001, "Here is your label", attachments=("a.pdf", "b.png"))
    desk.process(ref)
    desk.process(ref)
    assert desk.sms == ["Here is your label"]
    assert len(desk.notes) == 1 and "2 attachments" in desk.notes[0]


def test_a2_the_bridges_own_notes_are_not_sent_when_they_come_back() -> None:
    desk = Desk(customer=factories.profile(ALICE, consented=False))
    desk.process(desk.comment(7001))
    (note_id,) = [c.id for c in desk.zendesk.comments(desk.ticket_id) if not c.public]
    data = comment_added(sms_ticket(desk.ticket_id, requester_id=desk.requester), note_id,
                         desk.notes[0], author_id=desk.agent, public=True)
    assert desk.process(receive(desk.store, data, desk.clock())).reason == "own_comment"


# --- A5 body --------------------------------------------------------------------------------

def test_a5_an_html_comment_is_sent_as_plain_text() -> None:
    desk = Desk()
    data = comment_added(sms_ticket(desk.ticket_id, requester_id=desk.requester), 7001,
                         "ignored", author_id=desk.agent)
    data["event"]["comment"]["html_body"] = (
        "<div><p>Hi <b>Alice</b>,</p><p>Your order &amp; its    gift ship today.<br>"
        "Tracking: <a href='https://track.example/1Z'>1Z999</a></p></div>")
    desk.process(receive(desk.store, data, desk.clock()))
    assert desk.sms == ["Hi Alice,\n\nYour order & its gift ship today.\nTracking: 1Z999"]


# --- A6 exactly once ------------------------------------------------------------------------

def test_a6_a_comment_delivered_twice_sends_one_sms() -> None:
    desk = Desk()
    desk.run(desk.comment(7001))
    desk.run(desk.comment(7001))          # Zendesk delivered the same event again
    assert desk.sms == ["Your order shipped today."]


def test_a6_a_retry_after_the_send_went_out_sends_nothing_more() -> None:
    desk = Desk()
    ref = desk.comment(7001)
    desk.process(ref)
    assert desk.process(ref) == Done("dropped", "already_sent")
    assert desk.sms == ["Your order shipped today."]


def test_a6_a_send_that_never_reached_klaviyo_is_sent_on_the_retry() -> None:
    desk = Desk()
    desk.klaviyo.fail_next("send_conversation_message", Retryable("klaviyo", "connect timeout"))
    ref = desk.comment(7001)
    with pytest.raises(FailedAttempt):
        desk.run(ref)
    assert desk.sms == []
    desk.run(ref)
    assert desk.sms == ["Your order shipped today."]
    assert desk.store.outcomes.failed() == {}


def test_a6_a_reply_waiting_for_the_messages_budget_costs_no_klaviyo_call() -> None:
    desk = Desk(budget=Budget("klaviyo-conversation-messages", ((1, 60.0),)))
    desk.store.quota.take(desk.budget)      # another reply took this minute's message
    with pytest.raises(Deferred):
        desk.process(desk.comment(7001))
    assert sum(desk.klaviyo.calls.values()) == 0
    assert desk.sms == []


def test_a6_the_budget_token_is_given_back_when_a_note_is_left_instead() -> None:
    desk = Desk(customer=factories.profile(ALICE, consented=False),
                budget=Budget("klaviyo-conversation-messages", ((1, 60.0),)))
    desk.process(desk.comment(7001))
    assert len(desk.notes) == 1
    assert desk.store.quota.take(desk.budget) == 0     # the minute's one message is still there


def test_a6_a_reply_whose_lookup_outlasted_its_token_waits_instead_of_sending_early(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """E3: the token is confirmed at the send; if the window filled meanwhile (the token
    was taken before a slow lookup), the reply is deferred, nothing sent, nothing recorded."""
    desk = Desk(budget=Budget("klaviyo-conversation-messages", ((1, 0.2),)))
    look_up = desk.klaviyo.find_profile_by_phone

    def slow_lookup(phone: str) -> Profile | None:
        time.sleep(0.2 + GUARD_SECONDS + 0.05)          # the token's grant leaves the window
        assert desk.store.quota.take(desk.budget) == 0  # and another reply's send takes it
        return look_up(phone)

    monkeypatch.setattr(desk.klaviyo, "find_profile_by_phone", slow_lookup)
    with pytest.raises(Deferred):
        desk.process(desk.comment(7001))
    assert desk.sms == [] and desk.store.ledger.reply_state(7001) is None


def test_a6_replies_of_one_ticket_go_out_in_comment_order() -> None:
    desk = Desk()
    second = desk.comment(7002, "It left the warehouse this morning.")
    desk.comment(7001, "Let me check your order.")          # delivered late
    desk.comment(7003, "It arrives Friday.")
    desk.run(second)
    assert desk.sms == ["Let me check your order.", "It left the warehouse this morning.",
                        "It arrives Friday."]
    assert desk.store.queues.head(f"reply|{desk.ticket_id}") is None


# --- flow_event mode ------------------------------------------------------------------------

def test_flow_event_mode_records_one_event_per_comment_instead_of_sending() -> None:
    desk = Desk(mode="flow_event")
    first = desk.comment(7001)
    desk.process(first)
    desk.process(first)
    desk.process(desk.comment(7002, "It arrives Friday."))
    assert desk.sms == []
    assert desk.klaviyo.calls["create_event"] == 2
    assert [(e["metric"], e["unique_id"], e["properties"]["body"])
            for e in desk.klaviyo.events] == [
        ("Zendesk Agent Reply", "zendesk-comment-7001", "Your order shipped today."),
        ("Zendesk Agent Reply", "zendesk-comment-7002", "It arrives Friday.")]
    assert desk.klaviyo.events[0]["profile"] == {"phone_number": ALICE}
