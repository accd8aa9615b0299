"""A6 exactly once with real processes: Klaviyo drops the answer to some conversation-message
sends, half of them before doing the send and half after. Every reply reaches the phone once:
a send that went out is found (its `received_sms` echo, its `Received SMS` event), one that did
not is sent again when the confirmation window ends (`REPLY_CONFIRM_SECONDS`, at its minimum
here), and nothing waits in failed jobs."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from scripts.devstack import Stack
from tests.e2e.conftest import E2E_ENV
from tests.e2e.harness import ALICE, BOB, CONVERSATIONS, EMIL, Bridge, open_tickets, wait_for

pytestmark = pytest.mark.e2e
REPLIES = 100   # the chaos figure: 100 replies, 10% of sends unanswered


@contextmanager
def settling_stack(tmp_path: Path, **env: str) -> Iterator[Bridge]:
    """A stack of its own: 1 s HTTP timeouts (a hanging send is an unanswered one) and a 10 s
    window to settle an unanswered send (the issue's 120 s, scaled down)."""
    stack = Stack(workdir=tmp_path, extra_env={
        **E2E_ENV, "HTTP_TIMEOUT_SECONDS": "1", "REPLY_CONFIRM_SECONDS": "10", **env})
    try:
        stack.start()
        yield Bridge(stack)
    finally:
        stack.stop()


def test_replies_whose_send_klaviyo_did_not_answer_reach_the_phone_exactly_once(
        tmp_path: Path) -> None:
    with settling_stack(tmp_path, KLAVIYO_MESSAGES_PER_MINUTE="600") as bridge:
        bridge.set_limit("klaviyo:conversation-messages", [[20, 1], [600, 60]])
        tickets = open_tickets(bridge, CONVERSATIONS)
        # Sends hang past the bridge's 1 s timeout: 10% of them, half carried out first.
        requests.post(f"{bridge.sandbox}/_sandbox/faults", json={
            "api": "klaviyo", "timeout_rate": 0.05, "applied_timeout_rate": 0.05,
            "timeout_seconds": 2}, timeout=10).raise_for_status()
        bodies = [f"settle reply {i:03d}" for i in range(REPLIES)]
        for i, body in enumerate(bodies):
            bridge.reply(tickets[CONVERSATIONS[i % 3]], body)

        def texts() -> list[str]:
            return [m["body"] for p in (ALICE, BOB, EMIL) for m in bridge.replies_to(p)]

        wait_for(lambda: set(texts()) >= set(bodies), timeout=240, what="every reply")
        requests.post(f"{bridge.sandbox}/_sandbox/faults", json={
            "api": "klaviyo", "timeout_rate": 0, "applied_timeout_rate": 0},
            timeout=10).raise_for_status()
        bridge.settle(timeout=90)
        doubled = {b: n for b, n in Counter(texts()).items() if n > 1}
        assert doubled == {}, "a reply was sent twice"
        assert set(texts()) == set(bodies)
        assert bridge.redis.hlen("zkb:failed") == 0
        counters = bridge.counters()
        settled = counters.get("agent_reply:settled:sent", 0) + \
            counters.get("agent_reply:settled:resent", 0)
        print(f"settled {settled} unanswered sends: {counters}")


def test_klaviyo_unreachable_after_a_lost_answer_means_a_note_and_a_failed_job_not_two_sms(
        tmp_path: Path) -> None:
    """The send is carried out but its answer lost; then Klaviyo is unreachable (every API call
    hangs, no webhook arrives) past the window: one note on the ticket, the reply in failed
    jobs, nothing sent twice. Replayed once Klaviyo is back, it is found and recorded as sent."""
    with settling_stack(tmp_path) as bridge:
        [(phone, to)] = CONVERSATIONS[:1]
        ticket = open_tickets(bridge, CONVERSATIONS[:1])[(phone, to)]
        config = f"{bridge.sandbox}/_sandbox/config"
        hook = requests.get(config, timeout=10).json()["klaviyo_webhook_url"]
        faults = f"{bridge.sandbox}/_sandbox/faults"
        requests.post(config, json={"klaviyo_webhook_url": None}, timeout=10).raise_for_status()
        send = "POST /api/conversation-messages"
        requests.post(faults, json={"api": "klaviyo", "applied_timeout_rate": 1,
                                    "timeout_seconds": 2, "only": send},
                      timeout=10).raise_for_status()
        bridge.reply(ticket, "Your parcel left today.")
        wait_for(lambda: bridge.replies_to(phone), what="the send to be carried out")
        requests.post(faults, json={"api": "klaviyo", "applied_timeout_rate": 0, "timeout_rate": 1,
                                    "only": ""}, timeout=10).raise_for_status()
        wait_for(lambda: bridge.redis.hlen("zkb:failed") == 1, timeout=120,
                 what="the reply to be set aside")
        notes = [c for c in bridge.comments(ticket) if not c["public"]]
        assert len(notes) == 1 and "may not have reached the customer" in notes[0]["body"]
        requests.delete(faults, timeout=10).raise_for_status()
        requests.post(config, json={"klaviyo_webhook_url": hook}, timeout=10).raise_for_status()
        [ref] = [r.decode() for r in bridge.redis.hkeys("zkb:failed")]
        replayed = subprocess.run([sys.executable, "-m", "cli.main", "failed", "replay", ref],
                                  env={**bridge.stack.env(), "PYTHONIOENCODING": "utf-8"},
                                  capture_output=True, text=True, timeout=60)
        assert replayed.returncode == 0, replayed.stderr
        wait_for(lambda: bridge.redis.hlen("zkb:failed") == 0, timeout=60,
                 what="the replay to settle the reply")
        bridge.settle(timeout=60)
        assert [m["body"] for m in bridge.replies_to(phone)] == ["Your parcel left today."]
        assert len([c for c in bridge.comments(ticket) if not c["public"]]) == 1


def test_evidence_recorded_late_within_the_window_still_means_no_second_sms(
        tmp_path: Path) -> None:
    """Klaviyo records each conversation message (the `received_sms` webhook and the
    `Received SMS` event) 6 s after sending it, inside a 10 s window (the issue's 60 s inside
    120 s, scaled down); a fifth of the sends lose their answer after being carried out."""
    with settling_stack(tmp_path, KLAVIYO_MESSAGES_PER_MINUTE="600") as bridge:
        bridge.set_limit("klaviyo:conversation-messages", [[20, 1], [600, 60]])
        tickets = open_tickets(bridge, CONVERSATIONS)
        requests.post(f"{bridge.sandbox}/_sandbox/klaviyo/settings",
                      json={"record_delay_seconds": 6}, timeout=10).raise_for_status()
        requests.post(f"{bridge.sandbox}/_sandbox/faults", json={
            "api": "klaviyo", "applied_timeout_rate": 0.2, "timeout_seconds": 2,
            "only": "POST /api/conversation-messages"}, timeout=10).raise_for_status()
        bodies = [f"late evidence {i:02d}" for i in range(30)]
        for i, body in enumerate(bodies):
            bridge.reply(tickets[CONVERSATIONS[i % 3]], body)

        def texts() -> list[str]:
            return [m["body"] for p in (ALICE, BOB, EMIL) for m in bridge.replies_to(p)]

        wait_for(lambda: set(texts()) >= set(bodies), timeout=180, what="every reply")
        requests.delete(f"{bridge.sandbox}/_sandbox/faults", timeout=10).raise_for_status()
        bridge.settle(timeout=90)
        assert {b: n for b, n in Counter(texts()).items() if n > 1} == {}
        assert bridge.redis.hlen("zkb:failed") == 0
        assert bridge.counters().get("agent_reply:settled:sent", 0) >= 1
