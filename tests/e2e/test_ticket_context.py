"""A9 end to end (sandbox -> receiver -> Redis -> worker -> sandbox Zendesk): a customer who got
a campaign SMS texts in, and the new ticket shows that campaign, its text and their consent
(the "SMS context" field and tags, written by the creation call itself); when Klaviyo's events
read fails, the ticket is still made, without context, and the text is not held back."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.harness import ALICE, Bridge, wait_for

pytestmark = pytest.mark.e2e
FIELD = 360004


def context_of(ticket: dict) -> str | None:
    return next(f["value"] for f in ticket["custom_fields"] if f["id"] == FIELD)


def first_ticket(bridge: Bridge, body: str) -> dict:
    bridge.text(ALICE, body)
    wait_for(lambda: bridge.tickets_of(ALICE), what="Alice's ticket")
    bridge.settle()
    [ticket] = bridge.tickets_of(ALICE)
    return bridge.ticket(int(ticket["id"]))


def test_a9_a_new_ticket_shows_the_campaign_the_customer_got(bridge: Bridge) -> None:
    bridge.campaign(ALICE, "Boots are 20% off until Sunday", "Winter sale")
    bridge.settle()
    bridge.reset_calls()
    ticket = first_ticket(bridge, "Do the boots come in size 9?")
    context = context_of(ticket) or ""
    assert "campaign “Winter sale”" in context and "Boots are 20% off" in context
    assert "Consent: subscribed to SMS marketing" in context
    assert {"last_sms_campaign", "sms_consent_marketing"} <= set(ticket["tags"])
    calls = bridge.calls()
    assert calls.get("klaviyo GET /api/events") == 1
    assert calls.get("zendesk POST /api/v2/tickets") == 1


def test_a9_a_failing_klaviyo_read_leaves_the_ticket_made_without_context(
        bridge: Bridge) -> None:
    requests.post(f"{bridge.sandbox}/_sandbox/faults", json={
        "api": "klaviyo", "error_rate": 1.0, "only": "GET /api/events"}, timeout=5
    ).raise_for_status()
    try:
        ticket = first_ticket(bridge, "Hello, is anyone there?")
    finally:
        requests.delete(f"{bridge.sandbox}/_sandbox/faults", params={"api": "klaviyo"},
                        timeout=5)
    assert context_of(ticket) is None
    assert "last_sms_campaign" not in ticket["tags"]
    assert [c["body"] for c in bridge.comments(int(ticket["id"]))] == ["Hello, is anyone there?"]
