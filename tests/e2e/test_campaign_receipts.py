"""E6 end to end (real processes): a campaign's receipts for customers without a ticket cost
no Zendesk call and no task; recipients with an open SMS ticket get their note, whichever brand
number the campaign came from, written together in an update_many job; and a lost open-SMS
index is rebuilt by the sweep."""

from __future__ import annotations

import pytest

from tests.e2e.harness import SHORT_CODE, Bridge, open_tickets, wait_for

pytestmark = pytest.mark.e2e

BODY = "Spring sale: 20% off everything"
NOTE = f"Klaviyo flow 'Spring' sent: {BODY}"
RECEIPTS = 2000


def notes(bridge: Bridge, ticket_id: int) -> list[str]:
    return [c["body"] for c in bridge.comments(ticket_id) if not c["public"]]


def task_outcomes(bridge: Bridge) -> int:
    """How many received_sms tasks ran to an outcome (every task counts exactly one)."""
    return sum(n for k, n in bridge.counters().items()
               if k.startswith("received_sms:") and not k.endswith(":receipt_without_ticket"))


def test_2000_receipts_without_tickets_cost_no_zendesk_call_and_no_task(bridge: Bridge) -> None:
    tickets = open_tickets(bridge)                  # Alice, Bob, Emil texted the toll-free number
    phones = bridge.make_customers(RECEIPTS)
    bridge.settle()
    bridge.reset_calls()
    tasks_before = task_outcomes(bridge)
    sent = bridge.campaign_batch(phones + [p for p, _ in tickets], BODY, "Spring",
                                 sender=SHORT_CODE)
    assert sent["refused"] == [] and sent["sent"] == RECEIPTS + len(tickets)
    wait_for(lambda: all(notes(bridge, t) for t in tickets.values()), timeout=120,
             what="a note on every open SMS ticket")
    bridge.settle(120)
    assert all(notes(bridge, t) == [NOTE] for t in tickets.values())
    counters = bridge.counters()
    assert counters["received_sms:dropped:receipt_without_ticket"] == RECEIPTS
    assert task_outcomes(bridge) - tasks_before == len(tickets)      # one task per note only
    assert bridge.zendesk_calls() <= 20, bridge.calls()
    calls = bridge.calls()
    # E6 (#11): the notes share one update_many job rather than a PUT each
    assert calls.get("zendesk PUT /api/v2/tickets/update_many") == 1, calls
    assert not any(k.startswith("zendesk PUT /api/v2/tickets/") and "many" not in k
                   for k in calls), calls
    assert len(bridge.tickets()) == len(tickets)


def test_a_lost_index_is_rebuilt_by_the_sweep_from_the_sms_tickets_view(bridge: Bridge) -> None:
    from bridge import bootstrap  # noqa: PLC0415 - the operator's side, as provision --view
    from bridge.config import Settings  # noqa: PLC0415
    from bridge.ops.provision import VIEW_OUTPUT, view_spec  # noqa: PLC0415

    tickets = open_tickets(bridge)
    admin = bootstrap.zendesk_admin(Settings.from_env(bridge.stack.env()))
    admin.create_view({**view_spec(), "output": VIEW_OUTPUT})
    lost = [k for k in bridge.redis.scan_iter(match="zkb:opensms:+*")]
    assert len(lost) == len(tickets)                 # one hash per phone
    bridge.redis.delete(*lost, "zkb:opensms:ready")  # Redis lost the index
    bridge.reset_calls()
    bridge.run_task("bridge.sweep")
    wait_for(lambda: bridge.redis.get("zkb:opensms:ready") == b"view", timeout=60,
             what="the index rebuilt from the view")
    assert bridge.zendesk_calls() == 2               # find the view, one page of tickets
    alice = bridge.redis.hget("zkb:opensms:+15005550101", "+18005550100") or b""
    assert alice.split(b":")[0] == str(tickets[("+15005550101", "+18005550100")]).encode()
    sent = bridge.campaign_batch([p for p, _ in tickets], BODY, "Spring", sender=SHORT_CODE)
    assert sent["sent"] == len(tickets)
    wait_for(lambda: all(notes(bridge, t) == [NOTE] for t in tickets.values()), timeout=60,
             what="the notes, found through the rebuilt index")
