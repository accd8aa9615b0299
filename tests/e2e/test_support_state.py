"""M5 end to end: `Opened Ticket` / `Resolved Ticket` also set `Open support tickets` on the
requester's Klaviyo profile (inside the event's profile object: no extra Klaviyo call), through
the real receiver, workers, beat and the sandbox's Klaviyo, which applies those properties."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.harness import PROFILE, Bridge, wait_for

pytestmark = pytest.mark.e2e
OPENED, RESOLVED = "Opened Ticket", "Resolved Ticket"
OPEN_TICKETS = "Open support tickets"


def shown(bridge: Bridge) -> object:
    """What Alice's Klaviyo profile shows."""
    profiles = requests.get(f"{bridge.sandbox}/_sandbox/klaviyo/profiles", timeout=10).json()
    (alice,) = [p for p in profiles if p["id"] == PROFILE["alice"]]
    return alice["properties"].get(OPEN_TICKETS)


def recorded(bridge: Bridge, metric: str, ticket_id: int) -> None:
    wait_for(lambda: any(e["properties"].get("Ticket_id") == ticket_id
                         for e in bridge.klaviyo_events(metric)),
             what=f"{metric} for {ticket_id}")
    bridge.settle()


def two_open_tickets(bridge: Bridge) -> list[int]:
    ids = [bridge.desk_ticket(requester_email="alice@example.com", subject=f"Question {i}",
                              body="Where is my order?")["id"] for i in (1, 2)]
    for tid in ids:
        recorded(bridge, OPENED, tid)
    return ids


@pytest.mark.parametrize("first", [0, 1], ids=["older first", "newer first"])
def test_two_tickets_closed_in_either_order_leave_the_profile_at_zero(bridge: Bridge,
                                                                      first: int) -> None:
    calls_before = bridge.calls().get("klaviyo POST /api/events", 0)
    tickets = two_open_tickets(bridge)
    assert shown(bridge) == 2
    bridge.set_status(tickets[first], "closed")
    recorded(bridge, RESOLVED, tickets[first])
    assert shown(bridge) == 1                       # one still open: marketing stays paused
    bridge.set_status(tickets[1 - first], "closed")
    recorded(bridge, RESOLVED, tickets[1 - first])
    assert shown(bridge) == 0
    assert bridge.calls().get("klaviyo POST /api/events", 0) == calls_before + 4


def test_a_ticket_closed_without_a_webhook_is_caught_up_by_the_sweep_and_counted(
        bridge: Bridge) -> None:
    """M4 + M5: Zendesk's 28-day auto-close fires no webhook; the sweep's Resolved Ticket
    brings the count down like a live one."""
    tickets = two_open_tickets(bridge)
    bridge.set_status(tickets[0], "closed")
    recorded(bridge, RESOLVED, tickets[0])
    bridge.set_status(tickets[1], "closed", silent=True)
    bridge.settle()
    assert shown(bridge) == 1
    bridge.shift_zendesk_clock(120)                  # the export leaves out the last minute
    bridge.run_task("bridge.reconcile")
    recorded(bridge, RESOLVED, tickets[1])
    assert shown(bridge) == 0


def test_two_tickets_closed_at_the_same_moment_leave_the_profile_at_zero(bridge: Bridge) -> None:
    """An agent closing both at once: two webhooks handled by two workers side by side; the
    requester's sends do not overlap, so the last one carries the final count."""
    tickets = two_open_tickets(bridge)
    for tid in tickets:
        bridge.set_status(tid, "closed")
    for tid in tickets:
        recorded(bridge, RESOLVED, tid)
    assert shown(bridge) == 0
