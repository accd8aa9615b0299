"""Replies under load and under fire: the Conversations API quota (60/min) and a worker SIGKILL.

A6 (at most one SMS per agent comment) and E3 (a burst drains at the quota, not into 429s).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from scripts.devstack import Stack
from tests.e2e.conftest import E2E_ENV
from tests.e2e.harness import ALICE, BOB, EMIL, LONG_CODE, TOLL_FREE, Bridge, wait_for

pytestmark = pytest.mark.e2e
CONVERSATIONS = ((ALICE, TOLL_FREE), (BOB, TOLL_FREE), (EMIL, TOLL_FREE))


def open_tickets(bridge: Bridge, conversations=CONVERSATIONS) -> dict[tuple[str, str], int]:  # noqa: ANN001
    for phone, to in conversations:
        bridge.text(phone, "hello", to=to)
    wait_for(lambda: all(bridge.tickets_of(p, to) for p, to in conversations), what="tickets")
    bridge.settle()
    return {(p, to): bridge.tickets_of(p, to)[0]["id"] for p, to in conversations}


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


def test_a_worker_killed_while_sending_100_replies_sends_each_at_most_once(
        tmp_path: Path) -> None:
    """Budget raised to 600/min on both sides so the run is short; the crash is the point."""
    stack = Stack(workdir=tmp_path, extra_env={**E2E_ENV, "KLAVIYO_MESSAGES_PER_MINUTE": "600"})
    try:
        stack.start()
        bridge = Bridge(stack)
        bridge.set_limit("klaviyo:conversation-messages", [[20, 1], [600, 60]])
        conversations = (*CONVERSATIONS, (ALICE, LONG_CODE))
        tickets = open_tickets(bridge, conversations)
        bodies = []
        for i in range(100):
            body = f"crash reply {i:03d}"
            bridge.reply(tickets[conversations[i % 4]], body)
            bodies.append(body)

        def texts() -> list[str]:
            return [m["body"] for p in (ALICE, BOB, EMIL) for m in bridge.replies_to(p)]

        wait_for(lambda: len(texts()) >= 20, what="sending to be under way")
        stack.kill("worker", signal.SIGKILL)
        at_kill = len(texts())
        stack.start_process("worker")

        def finished() -> bool:
            failed = bridge.redis.hlen("zkb:failed")
            return len(texts()) + failed >= 100

        wait_for(finished, timeout=150, what="every reply sent or reported")
        bridge.settle(timeout=90)
        seen = texts()
        assert at_kill < 100, "the kill came after the work was done; nothing was tested"
        assert len(seen) == len(set(seen)), "a reply was sent twice"
        unknown = [json.loads(v) for v in bridge.redis.hvals("zkb:failed")]
        assert all(f["error"] == "ReplyOutcomeUnknown" for f in unknown)
        missing = set(bodies) - set(seen)
        assert len(missing) == len(unknown) <= 4   # at most one in flight per ticket queue
        assert bridge.counters().get("agent_reply:outcome_unknown:", 0) == len(unknown)
    finally:
        stack.stop()
