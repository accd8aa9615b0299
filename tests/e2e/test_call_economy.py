"""E6, real processes, counted through the sandbox: with no backlog a new customer's first text
costs two Zendesk calls all told (the requester, the ticket; its Opened Ticket is built from
what Zendesk answered and the ticket.created webhook, no read) and a follow-up text one."""

from __future__ import annotations

import pytest

from tests.e2e.harness import Bridge, wait_for

pytestmark = pytest.mark.e2e


def conversation_calls(bridge: Bridge) -> dict[str, int]:
    """Zendesk calls a conversation makes (the sweeps' export and view reads left out)."""
    return {k: n for k, n in bridge.calls().items() if k.startswith("zendesk ")
            and "incremental" not in k and "views" not in k}


def test_a_new_conversation_costs_two_zendesk_calls_and_a_follow_up_one(bridge: Bridge) -> None:
    [phone] = bridge.make_customers(1)
    bridge.settle()
    bridge.reset_calls()
    bridge.text(phone, "Hello, is my parcel on its way?")
    wait_for(lambda: bridge.klaviyo_events("Opened Ticket"), what="the Opened Ticket")
    bridge.settle()
    [ticket] = bridge.tickets_of(phone)
    assert sum(conversation_calls(bridge).values()) == 2, conversation_calls(bridge)
    [opened] = bridge.klaviyo_events("Opened Ticket")
    assert opened["properties"]["Ticket_id"] == ticket["id"]
    bridge.text(phone, "Any news?")
    wait_for(lambda: len(bridge.comments(ticket["id"])) == 2, what="the follow-up")
    bridge.settle()
    assert sum(conversation_calls(bridge).values()) == 3, conversation_calls(bridge)
