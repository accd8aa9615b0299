"""Zendesk ticket events: which handler each one reaches. A comment goes to replies, a new ticket
records Opened Ticket, a status change keeps the conversation cache in step and, to Closed only,
records Resolved Ticket."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.domain.metric_rules import OPENED, RESOLVED
from bridge.domain.model import Budget, Conversation, conversation_external_id
from bridge.handlers.agent_reply import ReplyDeps
from bridge.handlers.ticket_event import TicketEventDeps, handle_ticket_event
from bridge.handlers.ticket_metric import MetricsDeps
from tests import factories
from tests.factories import (
    ALICE,
    TOLL_FREE,
    comment_added,
    receive,
    sms_ticket,
    status_changed,
    ticket_created,
)
from tests.fakes import Clock, FakeKlaviyo, FakeZendesk, store

BUDGET = Budget("test-budget", ((100, 60.0),))


class Bridge:
    """Zendesk with Alice's SMS ticket and Bo, the agent; Klaviyo with Alice's profile."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.store = store()
        self.zendesk = FakeZendesk()
        alice = factories.profile(ALICE, email="alice@example.com")
        self.klaviyo = FakeKlaviyo(alice)
        self.klaviyo.conversations[alice.id] = "conv-alice"
        self.agent = self.zendesk.add_user("Bo", email="bo@shop.test", role="agent")
        self.requester = self.zendesk.add_user("Alice", email="alice@example.com", phone=ALICE)
        self.ticket_id = self.zendesk.add_ticket(
            requester_id=self.requester, external_id=conversation_external_id(ALICE, TOLL_FREE))
        self.ticket = sms_ticket(self.ticket_id, requester_id=self.requester, status="open")
        self.store.conversations.put_conversation(Conversation(
            ALICE, TOLL_FREE, ticket_id=self.ticket_id, ticket_status="open",
            requester_id=self.requester))
        replies = ReplyDeps(store=self.store, zendesk=self.zendesk, klaviyo=self.klaviyo,
                            quota=self.store.quota, budget=BUDGET, clock=self.clock,
                            sleep=self.clock.sleep)
        metrics = MetricsDeps(store=self.store, zendesk=self.zendesk, klaviyo=self.klaviyo,
                              quota=self.store.quota, events_budget=BUDGET,
                              zendesk_url="https://acme.zendesk.com", clock=self.clock)
        self.deps = TicketEventDeps(store=self.store, replies=replies, metrics=metrics)

    def deliver(self, data: dict[str, Any]) -> str:
        return handle_ticket_event(receive(self.store, data, self.clock()), self.deps)

    def status_to(self, status: str) -> str:
        self.zendesk.tickets[self.ticket_id]["status"] = status
        return self.deliver(status_changed(self.ticket, "open", status))

    @property
    def metrics(self) -> list[str]:
        return [e["metric"] for e in self.klaviyo.events]

    @property
    def cached_status(self) -> str | None:
        conv = self.store.conversations.get_conversation(ALICE, TOLL_FREE)
        return conv.ticket_status if conv else None


def test_an_agent_comment_goes_to_replies_and_is_sent_as_an_sms() -> None:
    bridge = Bridge()
    bridge.deliver(comment_added(bridge.ticket, 7001, "On its way!", author_id=bridge.agent))
    assert bridge.klaviyo.sent == [("conv-alice", "On its way!")]
    assert bridge.metrics == []


def test_a_new_ticket_records_opened_ticket_on_the_requesters_profile() -> None:
    bridge = Bridge()
    bridge.deliver(ticket_created(bridge.ticket))
    assert bridge.metrics == [OPENED]
    assert bridge.klaviyo.events[0]["profile"] == {"email": "alice@example.com"}
    assert bridge.klaviyo.sent == []


def test_a_closed_ticket_records_resolved_ticket_with_status_closed() -> None:
    bridge = Bridge()
    bridge.status_to("closed")
    assert bridge.metrics == [RESOLVED]
    assert bridge.klaviyo.events[0]["properties"]["Status"] == "closed"


def test_resolved_ticket_says_closed_even_if_zendesk_still_reads_the_ticket_as_solved() -> None:
    """The event names the status at that moment; a read right after may lag behind it."""
    bridge = Bridge()
    bridge.zendesk.tickets[bridge.ticket_id]["status"] = "solved"
    bridge.deliver(status_changed(bridge.ticket, "solved", "closed"))
    assert bridge.klaviyo.events[0]["properties"]["Status"] == "closed"


@pytest.mark.parametrize("status", ["solved", "pending", "hold", "open", "new"])
def test_m1_any_other_status_records_no_metric(status: str) -> None:
    bridge = Bridge()
    assert bridge.status_to(status) == "applied:recorded"
    assert bridge.metrics == []
    assert sum(bridge.klaviyo.calls.values()) == 0


@pytest.mark.parametrize("status", ["hold", "pending", "solved", "closed"])
def test_a_status_change_keeps_the_conversation_caches_status(status: str) -> None:
    """So a text to a ticket an agent put on hold keeps it on hold (S4)."""
    bridge = Bridge()
    bridge.status_to(status)
    assert bridge.cached_status == status


def test_a_status_change_of_another_ticket_leaves_the_conversation_alone() -> None:
    bridge = Bridge()
    other = sms_ticket(bridge.ticket_id + 1000, requester_id=bridge.requester)
    bridge.deliver(status_changed(other, "open", "hold"))
    assert bridge.cached_status == "open"


def test_a_ticket_event_delivered_twice_records_its_metric_once() -> None:
    bridge = Bridge()
    created = ticket_created(bridge.ticket)
    bridge.deliver(created)
    assert bridge.deliver(created) == "already_done"
    bridge.deliver(ticket_created(bridge.ticket))   # a second event for the same ticket
    assert bridge.metrics == [OPENED]
    assert bridge.klaviyo.calls["create_event"] == 1


def test_an_event_without_a_ticket_id_is_dropped() -> None:
    bridge = Bridge()
    data = ticket_created(bridge.ticket)
    data["detail"]["id"] = "not-a-number"
    assert bridge.deliver(data) == "dropped:malformed_event"
    assert bridge.metrics == []
