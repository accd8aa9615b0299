"""A burst of agent replies drains at the Conversations API quota (60/min), in order, without
storming into 429s (E3, A6)."""

from __future__ import annotations

import pytest

from tests.e2e.harness import CONVERSATIONS, Bridge, open_tickets, wait_for

pytestmark = pytest.mark.e2e


def test_200_replies_drain_at_the_quota_in_order_with_few_429s(bridge: Bridge) -> None:
    """Sandbox and bridge both at production values: 3/s and 60/min."""
    tickets = open_tickets(bridge)
    bridge.reset_calls()
    sent: dict[str, list[str]] = {p: [] for p, _ in CONVERSATIONS}
    for i in range(200):
        phone, to = CONVERSATIONS[i % 3]
        body = f"reply {i:03d}"
        bridge.reply(tickets[(phone, to)], body)
        sent[phone].append(body)

    def delivered() -> int:
        return sum(len(bridge.replies_to(p)) for p, _ in CONVERSATIONS)

    wait_for(lambda: delivered() >= 200, timeout=330, what="200 replies at 60/min")
    bridge.settle()
    for phone, _ in CONVERSATIONS:
        assert [m["body"] for m in bridge.replies_to(phone)] == sent[phone]
    calls = bridge.calls().get("klaviyo POST /api/conversation-messages", 0)
    throttled = bridge.throttled().get("klaviyo", 0)
    assert calls >= 200
    assert throttled / calls < 0.02, f"{throttled} of {calls} calls were answered 429"
