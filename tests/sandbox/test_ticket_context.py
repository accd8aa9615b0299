"""A9 against the sandbox over HTTP: the real Klaviyo and Zendesk clients, the inbound handler
and a new conversation. The ticket's creation call carries the customer's last campaign SMS and
consent (custom field + tags, no Zendesk call of its own); the Klaviyo read is made once per
customer an hour; a failing read leaves the ticket made without context."""

from __future__ import annotations

from typing import Any

import fakeredis
from zendesk_support import EMAIL, TOKEN, stack_fixtures

from bridge.adapters.klaviyo import KlaviyoClient
from bridge.adapters.store import Store
from bridge.adapters.zendesk import ZendeskClient
from bridge.domain.intents import PreparedText
from bridge.domain.sms_rules import Policy
from bridge.handlers.sms_inbound import InboundDeps, process_text

stack_server, stack = stack_fixtures()

ALICE_ID, ALICE = "01JSANDBOXALICE0000000000", "+15005550101"
TOLL_FREE, LONG_CODE = "+18005550100", "+15005550199"
FIELD = 360004      # the sandbox's "SMS context" field


def deps_for(base: str, store: Store) -> InboundDeps:
    return InboundDeps(store=store, zendesk=ZendeskClient(base, email=EMAIL, api_token=TOKEN),
                       klaviyo=KlaviyoClient(base, api_key="pk_sandbox_key",
                                             revision="2026-07-15"),
                       policy=Policy(), context_field_id=FIELD, sleep=lambda s: None)


def text(ref: str, brand: str, deps: InboundDeps) -> dict[str, Any]:
    """Alice's first text to `brand` (prepared as the handler keeps it): the ticket it made."""
    prepared = PreparedText(phone=ALICE, brand=brand, body="Hi, question about my order",
                            subject="SMS from Alice", name="Alice Ames",
                            email="alice@example.com", profile_id=ALICE_ID, consent="marketing")
    done = process_text(ref, {"prepared": prepared.to_json()}, deps)
    assert done.outcome == "applied"
    ticket = deps.zendesk.ticket_with_people(int(done.fields["ticket_id"]))[0]
    return ticket


def field_value(ticket: dict[str, Any]) -> str | None:
    return next(f["value"] for f in ticket["custom_fields"] if f["id"] == FIELD)


def events_reads(stack: Any) -> int:
    return int(calls_made(stack).get("klaviyo GET /api/events", 0))


def calls_made(stack: Any) -> dict[str, int]:
    return dict(stack.admin("GET", "/calls").json()["calls"])


def test_a9_a_new_ticket_shows_the_last_campaign_sms_and_consent_in_its_creation(stack) -> None:
    stack.admin("POST", "/klaviyo/campaign", json={
        "to": ALICE, "campaign_name": "Winter sale", "body": "20% off boots until Sunday"}
    ).raise_for_status()
    stack.admin("POST", "/calls/reset")
    ticket = text("klaviyo:ctx-1", TOLL_FREE, deps_for(stack.base, Store(fakeredis.FakeRedis())))
    value = field_value(ticket)
    assert value is not None and "campaign “Winter sale”" in value
    assert "20% off boots until Sunday" in value and "subscribed to SMS marketing" in value
    assert {"sms", "last_sms_campaign", "sms_consent_marketing"} <= set(ticket["tags"])
    calls = calls_made(stack)
    assert calls.get("zendesk POST /api/v2/tickets") == 1
    assert not any(k.startswith("zendesk PUT") for k in calls)    # no second write for it


def test_a9_the_klaviyo_read_is_made_once_per_customer_within_the_hour(stack) -> None:
    deps = deps_for(stack.base, Store(fakeredis.FakeRedis()))
    stack.admin("POST", "/calls/reset")
    text("klaviyo:ctx-2", TOLL_FREE, deps)
    text("klaviyo:ctx-3", LONG_CODE, deps)       # a second conversation of hers, a new ticket
    assert events_reads(stack) == 1


def test_a9_a_failing_klaviyo_read_still_makes_the_ticket_without_context(stack) -> None:
    store = Store(fakeredis.FakeRedis())
    stack.admin("POST", "/faults", json={"api": "klaviyo", "error_rate": 1.0,
                                         "only": "GET /api/events"}).raise_for_status()
    ticket = text("klaviyo:ctx-4", TOLL_FREE, deps_for(stack.base, store))
    stack.admin("DELETE", "/faults", params={"api": "klaviyo"})
    assert field_value(ticket) is None
    assert not {"last_sms_campaign", "sms_consent_marketing"} & set(ticket["tags"])
    assert store.conversations.cached_context(ALICE_ID) is None   # asked again next time
