"""E3 under backlog: with the sandbox's Zendesk at its production limits (200 requests/min for
the account, of which at most 100/min may update tickets) and 1,000 texts queued, the bridge
drains at >= 90% of whichever of the two binds, with < 2% of calls answered 429.

This is a quota measurement (Zendesk's limit, not this machine's speed, sets the pace), made
over a two-minute window of the drain; the rest of the backlog is left to the stack's teardown.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from scripts.devstack import Stack
from tests.e2e.conftest import E2E_ENV
from tests.e2e.harness import TOLL_FREE, Bridge, wait_for

pytestmark = pytest.mark.e2e
WINDOW = 120.0


def zendesk_calls(bridge: Bridge) -> tuple[int, int]:
    """(all Zendesk calls, ticket updates) so far."""
    calls = bridge.calls()
    return (sum(n for k, n in calls.items() if k.startswith("zendesk ")),
            calls.get("zendesk PUT /api/v2/tickets/{id}", 0))


def test_a_backlog_of_1000_texts_drains_at_the_zendesk_quota(tmp_path: Path) -> None:
    stack = Stack(workdir=tmp_path, processes=("sandbox", "web", "worker"),
                  # single writes: this measures how they pace themselves to the quota (bulk
                  # jobs, E6, have their own e2e: test_bulk_writes.py)
                  extra_env={**E2E_ENV, "WORKER_CONCURRENCY": "6", "INBOUND_SETTLE_MS": "0",
                             "ZENDESK_BULK_WRITES": "false"})
    try:
        stack.start()
        bridge = Bridge(stack)
        phones = bridge.make_customers(500)
        bridge.reset_calls()
        for round_ in range(2):                      # 2 texts each: 1,000 texts
            for i in range(0, 500, 100):
                bridge.text_batch([{"from": p, "to": TOLL_FREE, "body": f"text {round_}"}
                                   for p in phones[i:i + 100]])
        wait_for(lambda: zendesk_calls(bridge)[0] > 20, what="the drain to start")
        time.sleep(10)                               # past the first minute's burst
        (calls0, puts0), start = zendesk_calls(bridge), time.time()
        throttled_before = bridge.throttled().get("zendesk", 0)
        time.sleep(WINDOW)
        calls, puts = (n - n0 for n, n0 in zip(zendesk_calls(bridge), (calls0, puts0),
                                               strict=True))
        elapsed = time.time() - start
        throttled = bridge.throttled().get("zendesk", 0) - throttled_before
        per_minute = 60 / elapsed                    # accepted calls; a 429 may be either kind
        account, updates = (calls - throttled) * per_minute, (puts - throttled) * per_minute
        share = max(account / 200, updates / 100)
        print(f"\nZendesk drain: {account:.0f} accepted calls/min of 200, of which "
              f"{updates:.0f} ticket updates/min of 100: {share:.0%} of the binding limit; "
              f"{throttled} of {calls} answered 429")
        assert share >= 0.9, f"drained at {account:.0f}/min ({updates:.0f} updates/min)"
        assert throttled / max(calls, 1) < 0.02, f"{throttled} of {calls} answered 429"
        assert bridge.tickets(), "the drain did real work"
    finally:
        stack.stop()
