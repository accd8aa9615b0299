"""A worker SIGKILLed while sending agent replies: each reply reaches the phone at most once,
and any reply whose fate is unknown is reported, not resent (A6)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from scripts.devstack import Stack
from tests.e2e.conftest import E2E_ENV
from tests.e2e.harness import (
    ALICE,
    BOB,
    CONVERSATIONS,
    EMIL,
    LONG_CODE,
    Bridge,
    open_tickets,
    wait_for,
)

pytestmark = pytest.mark.e2e


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
        assert len(unknown) <= 4   # at most one send in flight per ticket queue
        assert bridge.counters().get("agent_reply:outcome_unknown:", 0) == len(unknown)
        # The documented exception: a reply whose fate is unknown was sent once or not at all;
        # every other reply was sent exactly once.
        unknown_bodies = {json.loads(bridge.redis.hget(f"zkb:ev:{f['ref']}", "raw"))["event"][
            "comment"]["body"] for f in unknown}
        missing = set(bodies) - set(seen)
        assert missing <= unknown_bodies
        assert set(seen) | unknown_bodies == set(bodies)
    finally:
        stack.stop()
