"""Ticket metrics end to end (M1-M4): Opened Ticket / Resolved Ticket on Klaviyo profiles, from
webhooks and from the catch-up sweep of Zendesk's incremental export."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.harness import AGENT_ANA, ALICE, BOB, PROFILE, Bridge, wait_for

pytestmark = pytest.mark.e2e
OPENED, RESOLVED = "Opened Ticket", "Resolved Ticket"
KEYS = {"Assignee_email", "Assignee_name", "Channel", "Description", "Fields", "Group_name",
        "Priority", "Subject", "Tags", "Ticket_id", "Type", "Via", "Zendesk_url", "Status"}


def events_for(bridge: Bridge, metric: str, ticket_id: int) -> list[dict]:
    return [e for e in bridge.klaviyo_events(metric)
            if e["properties"].get("Ticket_id") == ticket_id]


def one_event(bridge: Bridge, metric: str, ticket_id: int) -> dict:
    wait_for(lambda: events_for(bridge, metric, ticket_id), what=f"{metric} for {ticket_id}")
    bridge.settle()
    events = events_for(bridge, metric, ticket_id)
    assert len(events) == 1, events
    return events[0]


def test_a_desk_ticket_records_opened_ticket_with_all_14_properties(bridge: Bridge) -> None:
    ticket = bridge.desk_ticket(requester_email="alice@example.com", requester_name="Alice Ames",
                                subject="Broken zipper", body="The zipper broke on day one.",
                                assignee_id=AGENT_ANA, group_id=7001, tags=["vip", "returns"],
                                priority="high", type="problem",
                                custom_fields=[{"id": 360001, "value": "A-1001"}])
    event = one_event(bridge, OPENED, ticket["id"])
    props = event["properties"]
    assert set(props) == KEYS
    assert props["Assignee_email"] == "ana@acme-shop.test"
    assert props["Assignee_name"] == "Ana Agent"
    assert props["Group_name"] == "Support"
    assert props["Subject"] == "Broken zipper"
    assert props["Description"] == "The zipper broke on day one."
    assert sorted(props["Tags"]) == ["returns", "vip"]
    assert props["Priority"] == "high" and props["Type"] == "problem"
    assert props["Fields"]["360001"] == "A-1001"
    assert props["Ticket_id"] == ticket["id"]
    assert props["Channel"] == "web"
    assert props["Via"]
    assert props["Zendesk_url"].endswith(f"/agent/tickets/{ticket['id']}")
    assert props["Status"] in ("new", "open")
    assert event["profile_id"] == PROFILE["alice"]
    assert event["unique_id"] == f"zendesk-ticket-{ticket['id']}-opened"


def test_an_sms_ticket_made_through_the_api_records_opened_ticket(bridge: Bridge) -> None:
    bridge.text(ALICE, "hello from my phone")
    wait_for(lambda: bridge.tickets_of(ALICE), what="the SMS ticket")
    ticket = bridge.tickets_of(ALICE)[0]
    props = one_event(bridge, OPENED, ticket["id"])["properties"]
    assert props["Channel"] == "api" and "sms" in props["Tags"]
    assert props["Assignee_email"] is None and props["Group_name"] is None


def test_solve_records_nothing_and_close_records_one_resolved_ticket(bridge: Bridge) -> None:
    ticket = bridge.desk_ticket(requester_email="alice@example.com", subject="Size",
                                body="Which size?")
    one_event(bridge, OPENED, ticket["id"])
    bridge.set_status(ticket["id"], "solved")
    bridge.settle()
    assert events_for(bridge, RESOLVED, ticket["id"]) == []
    bridge.set_status(ticket["id"], "closed")
    event = one_event(bridge, RESOLVED, ticket["id"])
    assert event["properties"]["Status"] == "closed"
    assert event["unique_id"] == f"zendesk-ticket-{ticket['id']}-resolved"


def test_duplicate_webhooks_make_no_extra_event_and_no_extra_klaviyo_call(
        bridge: Bridge) -> None:
    ticket = bridge.desk_ticket(requester_email="alice@example.com", subject="Dup",
                                body="Same event twice")
    one_event(bridge, OPENED, ticket["id"])
    calls_before = bridge.calls().get("klaviyo POST /api/events", 0)
    created = next(d for d in bridge.deliveries("zendesk")
                   if json.loads(d["body"])["type"].endswith("ticket.created")
                   and json.loads(d["body"])["detail"]["id"] == str(ticket["id"]))
    bridge.redeliver(created["id"])
    bridge.redeliver(created["id"])
    bridge.settle()
    assert len(events_for(bridge, OPENED, ticket["id"])) == 1
    assert bridge.calls().get("klaviyo POST /api/events", 0) == calls_before


def test_one_ticket_created_delivered_five_times_at_once_costs_one_klaviyo_call(
        bridge: Bridge) -> None:
    """#14: concurrent duplicates (the webhook and four re-deliveries of it, all at once, while
    the first is still being processed) make one `POST /api/events`."""
    calls_before = bridge.calls().get("klaviyo POST /api/events", 0)
    ticket = bridge.desk_ticket(requester_email="alice@example.com", subject="Five at once",
                                body="Same event five times")
    created = wait_for(lambda: next(
        (d for d in bridge.deliveries("zendesk")
         if json.loads(d["body"])["type"].endswith("ticket.created")
         and json.loads(d["body"])["detail"]["id"] == str(ticket["id"])), None),
        what="the ticket.created delivery")
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(bridge.redeliver, [created["id"]] * 4))
    one_event(bridge, OPENED, ticket["id"])
    assert bridge.calls().get("klaviyo POST /api/events", 0) == calls_before + 1


def test_a_ticket_closed_silently_gets_resolved_ticket_after_one_sweep(bridge: Bridge) -> None:
    ticket = bridge.desk_ticket(requester_email="alice@example.com", subject="Old",
                                body="Auto-closed after 28 days")
    one_event(bridge, OPENED, ticket["id"])
    bridge.set_status(ticket["id"], "closed", silent=True)
    bridge.settle()
    assert events_for(bridge, RESOLVED, ticket["id"]) == []
    bridge.shift_zendesk_clock(120)   # the export leaves out the last minute
    bridge.run_task("bridge.reconcile")
    one_event(bridge, RESOLVED, ticket["id"])
    assert len(events_for(bridge, OPENED, ticket["id"])) == 1


def test_webhooks_dropped_for_100_tickets_are_all_recovered_by_the_sweep(
        bridge: Bridge) -> None:
    real_url = bridge.stack.env()["SANDBOX_ZENDESK_WEBHOOK_URL"]
    bridge.set_config(zendesk_webhook_url="http://127.0.0.1:9/nowhere")
    try:
        ids = [bridge.desk_ticket(requester_email="alice@example.com", subject=f"lost {i}",
                                  body="webhook dropped")["id"] for i in range(100)]
        wait_for(lambda: all(d["status"] != "pending" for d in bridge.deliveries("zendesk")),
                 timeout=90, what="the webhooks to be given up")
    finally:
        bridge.set_config(zendesk_webhook_url=real_url)
    assert bridge.klaviyo_events(OPENED) == []
    bridge.shift_zendesk_clock(120)
    bridge.run_task("bridge.reconcile")
    wait_for(lambda: len(bridge.klaviyo_events(OPENED)) >= 100, timeout=120,
             what="100 Opened Ticket events")
    bridge.settle()
    opened = bridge.klaviyo_events(OPENED)
    assert sorted(e["properties"]["Ticket_id"] for e in opened) == sorted(ids)


def test_a_requester_without_email_gets_the_event_on_the_phone_profile(bridge: Bridge) -> None:
    bridge.text(BOB, "no email here")
    wait_for(lambda: bridge.tickets_of(BOB), what="Bob's ticket")
    event = one_event(bridge, OPENED, bridge.tickets_of(BOB)[0]["id"])
    assert event["profile_id"] == PROFILE["bob"]
