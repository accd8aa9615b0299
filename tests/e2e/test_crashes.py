"""E1 under process failure: a worker SIGKILLed mid-run loses and doubles nothing."""

from __future__ import annotations

import signal

import pytest
import requests

from tests.e2e.harness import ALICE, BOB, DANA, EMIL, Bridge, wait_for

pytestmark = pytest.mark.e2e


def test_a_worker_killed_mid_run_and_restarted_applies_every_text_exactly_once(
        bridge: Bridge) -> None:
    customers = (ALICE, BOB, DANA, EMIL)
    expected = {phone: [f"{phone[-4:]} text {i}" for i in range(10)] for phone in customers}
    # Each Zendesk call takes 150 ms more, so the 40 texts take seconds and the kill lands
    # mid-run however fast the machine is.
    requests.post(f"{bridge.sandbox}/_sandbox/faults", json={"api": "zendesk",
                                                            "latency_ms": 150},
                  timeout=10).raise_for_status()
    try:
        _kill_mid_run_and_check(bridge, customers, expected)
    finally:
        requests.delete(f"{bridge.sandbox}/_sandbox/faults", timeout=10).raise_for_status()


def _kill_mid_run_and_check(bridge: Bridge, customers: tuple[str, ...],
                            expected: dict[str, list[str]]) -> None:
    for i in range(10):
        for phone in customers:
            bridge.text(phone, expected[phone][i])

    def comments_so_far() -> int:
        return sum(len(t["comments"]) for t in bridge.tickets())

    wait_for(lambda: comments_so_far() >= 6, what="the run to be under way")
    bridge.stack.kill("worker", signal.SIGKILL)
    killed_at = comments_so_far()
    bridge.stack.start_process("worker")

    def all_applied() -> bool:
        return all(len(bridge.tickets_of(p)) == 1 and
                   len(bridge.tickets_of(p)[0]["comments"]) >= 10 for p in customers)

    wait_for(all_applied, timeout=150, what="every text after the restart")
    bridge.settle(timeout=90)
    assert killed_at < 40, "the kill came after the work was done; nothing was tested"
    for phone in customers:
        tickets = bridge.tickets_of(phone)
        assert len(tickets) == 1
        assert [c["body"] for c in tickets[0]["comments"]] == expected[phone]
