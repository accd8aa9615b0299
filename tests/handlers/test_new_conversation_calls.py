"""E6 with fakes: with no backlog, a new customer's first text costs two Zendesk calls (the
requester, the ticket) and its Opened Ticket none — the bridge made that ticket and kept what
Zendesk answered, the webhook says what changed since — while a follow-up text costs one.
The event is the one the read would have given."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.domain.metric_rules import OPENED
from bridge.domain.model import Budget
from bridge.domain.sms_rules import Policy
from bridge.handlers.agent_reply import ReplyDeps
from bridge.handlers.sms_inbound import InboundDeps, handle_inbound
from bridge.handlers.ticket_event import TicketEventDeps, handle_ticket_event
from bridge.handlers.ticket_metric import MetricsDeps
from tests import fakes
from tests.factories import ALICE, profile, receive, sent_sms, ticket_created
from tests.fakes import Clock, FakeKlaviyo, FakeZendesk

BUDGET = Budget("test-budget", ((100, 60.0),))


class Bridge:
    def __init__(self, group_id: int | None = None) -> None:
        self.clock, self.store, self.zendesk = Clock(), fakes.store(), FakeZendesk()
        self.klaviyo = FakeKlaviyo(profile(ALICE, email="alice@example.com"))
        self.inbound = InboundDeps(store=self.store, zendesk=self.zendesk, klaviyo=self.klaviyo,
                                   policy=Policy(), clock=self.clock, sleep=self.clock.sleep,
                                   group_id=group_id)
        metrics = MetricsDeps(store=self.store, zendesk=self.zendesk, klaviyo=self.klaviyo,
                              quota=self.store.quota, events_budget=BUDGET,
                              zendesk_url="https://acme.zendesk.com", clock=self.clock)
        replies = ReplyDeps(store=self.store, zendesk=self.zendesk, klaviyo=self.klaviyo,
                            quota=self.store.quota, budget=BUDGET, clock=self.clock,
                            sleep=self.clock.sleep)
        self.events = TicketEventDeps(store=self.store, replies=replies, metrics=metrics)

    def text(self, body: str) -> None:
        sent_at = datetime.fromtimestamp(self.clock(), UTC)
        handle_inbound(receive(self.store, sent_sms(body, sent_at=sent_at), self.clock()),
                       self.inbound)
        self.clock.sleep(5)

    def ticket_created_webhook(self) -> None:
        [(tid, ticket)] = self.zendesk.tickets.items()
        handle_ticket_event(receive(self.store, ticket_created({**ticket, "id": tid}),
                                    self.clock()), self.events)

    def calls(self) -> int:
        return sum(self.zendesk.calls.values())


def test_a_new_conversation_costs_two_zendesk_calls_and_a_follow_up_one() -> None:
    bridge = Bridge()
    bridge.text("Where is my order?")
    bridge.ticket_created_webhook()
    assert bridge.calls() == 2, bridge.zendesk.calls      # requester + ticket; no read
    assert [e["metric"] for e in bridge.klaviyo.events] == [OPENED]
    bridge.text("Any news?")
    assert bridge.calls() == 3


def test_the_opened_ticket_built_without_a_read_is_the_one_the_read_gives() -> None:
    without, read = Bridge(group_id=7002), Bridge(group_id=7002)
    for bridge in (without, read):
        bridge.text("Where is my order?")
    [tid] = read.zendesk.tickets
    read.store.client.delete(f"zkb:made:{tid}")           # e.g. made before this version
    for bridge in (without, read):
        bridge.ticket_created_webhook()
    assert read.zendesk.calls["ticket_with_people"] == 1
    assert without.zendesk.calls["ticket_with_people"] == 0
    assert without.zendesk.calls["group"] == 1            # once; then the small cache
    made, fetched = without.klaviyo.events[0], read.klaviyo.events[0]
    assert made["profile"] == fetched["profile"] == {"email": "alice@example.com"}
    assert {k: v for k, v in made["properties"].items() if k != "Group_name"} == \
        {k: v for k, v in fetched["properties"].items() if k != "Group_name"}
    assert made["properties"]["Group_name"] == "Group 7002"
