"""SMS_REPLY_MODE=flow_event: replies become `Zendesk Agent Reply` events (one per comment) for a
metric-triggered Klaviyo flow to send, instead of Conversations API messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from scripts.devstack import Stack
from tests.e2e.conftest import E2E_ENV
from tests.e2e.harness import ALICE, PROFILE, Bridge, open_tickets, wait_for

pytestmark = pytest.mark.e2e


def test_flow_event_mode_records_one_event_per_reply_and_sends_no_message(
        tmp_path: Path) -> None:
    stack = Stack(workdir=tmp_path, processes=("sandbox", "web", "worker"),
                  extra_env={**E2E_ENV, "SMS_REPLY_MODE": "flow_event"})
    try:
        stack.start()
        bridge = Bridge(stack)
        ticket = open_tickets(bridge, ((ALICE, "+18005550100"),))[(ALICE, "+18005550100")]
        bridge.reply(ticket, "Your refund is on its way.")

        def reply_events() -> list[dict]:
            return requests.get(f"{stack.sandbox_url}/_sandbox/klaviyo/events",
                                params={"metric": "Zendesk Agent Reply"}, timeout=5).json()

        events = wait_for(reply_events, what="the Zendesk Agent Reply event")
        bridge.settle()
        delivery = next(d for d in bridge.deliveries("zendesk") if "refund" in d["body"]
                        and "comment_added" in d["body"])
        bridge.redeliver(delivery["id"])
        bridge.settle()
        events = reply_events()
        assert len(events) == 1
        assert events[0]["profile_id"] == PROFILE["alice"]
        assert events[0]["properties"]["body"] == "Your refund is on its way."
        assert events[0]["properties"]["ticket_id"] == ticket
        assert events[0]["properties"]["brand_number"] == "+18005550100"
        assert bridge.replies_to(ALICE) == []
    finally:
        stack.stop()
