"""Ticket-metric rules M1-M3 as pure functions: which change makes which Klaviyo event, with which
properties, on which profile, under which unique_id. (tests/unit/test_properties.py checks the
property keys over arbitrary tickets; these are the worked examples.)"""

from __future__ import annotations

from typing import Any

import pytest

from bridge.domain.metric_rules import (
    OPENED,
    PROPERTY_KEYS,
    RESOLVED,
    build_event,
    metric_for_change,
    profile_identity,
    ticket_properties,
    unique_id,
)

URL = "https://acme.zendesk.com"
AGENT, CUSTOMER, GROUP = 7, 9, 8
USERS = {AGENT: {"id": AGENT, "name": "Bo Agent", "email": "bo@shop.test"},
         CUSTOMER: {"id": CUSTOMER, "name": "Ana", "email": "ana@example.com",
                    "phone": "+15551234567"}}
GROUPS = {GROUP: {"id": GROUP, "name": "Support"}}


def ticket(**fields: Any) -> dict[str, Any]:
    base = {"id": 5158, "subject": "SMS from +1•••••••4567", "description": "Where is my order?",
            "status": "open", "priority": "high", "type": "question", "tags": ["sms", "vip"],
            "requester_id": CUSTOMER, "assignee_id": AGENT, "group_id": GROUP,
            "via": {"channel": "api", "source": {"rel": "zkbridge"}},
            "custom_fields": [{"id": 360001, "value": "order-42"}, {"id": 360002, "value": None}]}
    return {**base, **fields}


# --- M1 which change makes which metric -------------------------------------------------------

@pytest.mark.parametrize(("kind", "status", "metric"), [
    ("ticket.created", None, OPENED),
    ("ticket.created", "new", OPENED),
    ("ticket.status_changed", "closed", RESOLVED),
    ("ticket.status_changed", "CLOSED", RESOLVED),
    ("ticket.status_changed", "solved", None),
    ("ticket.status_changed", "open", None),
    ("ticket.status_changed", "pending", None),
    ("ticket.status_changed", "hold", None),
    ("ticket.status_changed", None, None),
    ("ticket.comment_added", "closed", None),
], ids=lambda v: str(v))
def test_m1_the_metric_a_ticket_change_makes(kind: str, status: str | None,
                                             metric: str | None) -> None:
    assert metric_for_change(kind, status) == metric


def test_m1_solved_is_not_resolved() -> None:
    assert metric_for_change("ticket.status_changed", "solved") is None


def test_m1_the_unique_id_is_the_same_whoever_computes_it() -> None:
    assert unique_id(5158, OPENED) == unique_id(5158, OPENED) == "zendesk-ticket-5158-opened"
    assert unique_id(5158, RESOLVED) == "zendesk-ticket-5158-resolved"


def test_m1_each_ticket_and_metric_has_its_own_unique_id() -> None:
    ids = {unique_id(t, m) for t in (1, 2, 12) for m in (OPENED, RESOLVED)}
    assert len(ids) == 6


def test_m1_the_event_carries_the_deterministic_unique_id_and_the_zendesk_time() -> None:
    event = build_event(RESOLVED, ticket(), USERS, GROUPS, URL, "2026-11-25T10:00:00Z")
    assert event is not None
    assert event.metric == RESOLVED and event.ticket_id == 5158
    assert event.unique_id == "zendesk-ticket-5158-resolved"
    assert event.time == "2026-11-25T10:00:00Z"


# --- M2 properties ----------------------------------------------------------------------------

def test_m2_a_full_ticket_gives_every_property() -> None:
    props = ticket_properties(ticket(), USERS, GROUPS, URL)
    assert props == {
        "Assignee_email": "bo@shop.test", "Assignee_name": "Bo Agent", "Channel": "api",
        "Description": "Where is my order?", "Fields": {"360001": "order-42"},
        "Group_name": "Support", "Priority": "high", "Subject": "SMS from +1•••••••4567",
        "Tags": ["sms", "vip"], "Ticket_id": 5158, "Type": "question", "Via": "zkbridge",
        "Zendesk_url": "https://acme.zendesk.com/agent/tickets/5158", "Status": "open"}
    assert tuple(props) == PROPERTY_KEYS


def test_m2_absent_values_are_null_and_every_key_is_still_there() -> None:
    bare = {"id": 12, "requester_id": CUSTOMER}
    props = ticket_properties(bare, {}, {}, URL)
    assert tuple(props) == PROPERTY_KEYS
    assert props["Tags"] == []
    assert props["Ticket_id"] == 12
    assert props["Zendesk_url"] == "https://acme.zendesk.com/agent/tickets/12"
    assert {k for k, v in props.items() if v is not None} == {"Tags", "Ticket_id", "Zendesk_url"}


def test_m2_an_assignee_or_group_the_sideload_lacks_is_null() -> None:
    props = ticket_properties(ticket(assignee_id=404, group_id=None), USERS, GROUPS, URL)
    assert props["Assignee_email"] is None and props["Assignee_name"] is None
    assert props["Group_name"] is None


def test_m2_custom_fields_without_a_value_are_left_out() -> None:
    props = ticket_properties(ticket(custom_fields=[{"id": 1, "value": None}]), USERS, GROUPS,
                              URL)
    assert props["Fields"] is None


def test_m2_the_zendesk_url_has_one_slash_whatever_the_setting() -> None:
    props = ticket_properties(ticket(), USERS, GROUPS, URL + "/")
    assert props["Zendesk_url"] == "https://acme.zendesk.com/agent/tickets/5158"


def test_m2_via_falls_back_to_the_channel() -> None:
    props = ticket_properties(ticket(via={"channel": "email"}), USERS, GROUPS, URL)
    assert props["Via"] == "email" and props["Channel"] == "email"


def test_m2_the_status_given_wins_over_the_tickets_current_one() -> None:
    """A status_changed event names the status at that moment; the fetched ticket may be later."""
    props = ticket_properties(ticket(status="open"), USERS, GROUPS, URL, status="closed")
    assert props["Status"] == "closed"


# --- M3 profile -------------------------------------------------------------------------------

def test_m3_the_event_goes_to_the_requesters_email_first() -> None:
    assert profile_identity(USERS[CUSTOMER]) == {"email": "ana@example.com"}


def test_m3_a_requester_without_email_is_found_by_phone() -> None:
    assert profile_identity({"email": None, "phone": "+15551234567"}) == \
        {"phone_number": "+15551234567"}


@pytest.mark.parametrize("requester", [None, {}, {"email": "", "phone": None}],
                         ids=["unknown", "empty", "blank"])
def test_m3_a_requester_with_neither_gives_no_identity(requester: dict | None) -> None:
    assert profile_identity(requester) is None


def test_m3_no_event_for_a_requester_with_neither_email_nor_phone() -> None:
    users = {**USERS, CUSTOMER: {"id": CUSTOMER, "name": "Ana"}}
    assert build_event(OPENED, ticket(), users, GROUPS, URL, "2026-11-25T10:00:00Z") is None


def test_m3_no_event_when_the_requester_is_not_in_the_sideload() -> None:
    assert build_event(OPENED, ticket(requester_id=31337), USERS, GROUPS, URL, "t") is None


def test_m3_the_built_event_names_the_requesters_profile() -> None:
    users = {**USERS, CUSTOMER: {"id": CUSTOMER, "phone": "+15551234567"}}
    event = build_event(OPENED, ticket(), users, GROUPS, URL, "2026-11-25T10:00:00Z")
    assert event is not None and event.profile == {"phone_number": "+15551234567"}
