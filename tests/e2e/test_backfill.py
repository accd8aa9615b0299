"""`zkbridge backfill` over 5,000 sandbox tickets: right events and times, Klaviyo's backfill
flag, bulk calls instead of one per event, and a kill in the middle resumed without duplicates."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from scripts.devstack import Stack
from tests.e2e.harness import Bridge, wait_for

pytestmark = pytest.mark.e2e
COUNT, CLOSED_EVERY, SPACING = 5000, 3, 600


def run_backfill(stack: Stack, since: str, *extra: str) -> subprocess.Popen:
    cli = Path(sys.executable).parent / "zkbridge"
    return subprocess.Popen([str(cli), "backfill", "--since", since, "--quiet",
                             "--page-size", "250", *extra], env=stack.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_backfill_of_5000_tickets_survives_a_kill_and_resumes_without_duplicates(
        tmp_path: Path) -> None:
    stack = Stack(workdir=tmp_path, processes=("sandbox",),
                  extra_env={"ZENDESK_EXPORTS_PER_MINUTE": "600"})
    try:
        stack.start()
        bridge = Bridge(stack)
        bridge.set_limit("zendesk:incremental", [[600, 60]])
        start = datetime.now(UTC) - timedelta(days=40)
        seeded = requests.post(f"{stack.sandbox_url}/_sandbox/zendesk/tickets/bulk", json={
            "count": COUNT, "start_time": start.timestamp(), "spacing_seconds": SPACING,
            "closed_every": CLOSED_EVERY, "phone_only_every": 7}, timeout=30).json()
        first_id = seeded["ids"][0]
        since = (start - timedelta(days=1)).date().isoformat()

        dry = run_backfill(stack, since, "--dry-run")
        out, _ = dry.communicate(timeout=120)
        closed = COUNT // CLOSED_EVERY
        assert f"events would send: {COUNT + closed}" in out
        assert bridge.klaviyo_events("Opened Ticket") == []

        # Slow Klaviyo down a little so the kill lands mid-run, then kill it.
        requests.post(f"{stack.sandbox_url}/_sandbox/faults",
                      json={"api": "klaviyo", "latency_ms": 300}, timeout=5)
        first = run_backfill(stack, since)
        wait_for(lambda: len(bridge.klaviyo_events("Opened Ticket")) >= 1000, timeout=120,
                 what="the first bulk calls")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert first.returncode == -signal.SIGKILL, "the backfill ended before the kill"
        stored_at_kill = (len(bridge.klaviyo_events("Opened Ticket"))
                          + len(bridge.klaviyo_events("Resolved Ticket")))
        assert stored_at_kill < COUNT + closed
        requests.delete(f"{stack.sandbox_url}/_sandbox/faults", timeout=5)

        second = run_backfill(stack, since)
        out, err = second.communicate(timeout=300)
        assert second.returncode == 0, err
        sent = int(re.search(r"events sent: (\d+)", out).group(1))
        bulk, per_event = map(int, re.search(
            r"Klaviyo calls: (\d+) bulk \(one call per event would be (\d+)\)", out).groups())
        assert sent <= COUNT + closed - stored_at_kill + 1000   # at most the chunk in flight
        assert per_event == sent and bulk <= sent / 100

        opened = bridge.klaviyo_events("Opened Ticket")
        resolved = bridge.klaviyo_events("Resolved Ticket")
        ids = Counter(e["properties"]["Ticket_id"] for e in opened)
        assert len(ids) == COUNT and max(ids.values()) == 1
        assert len(resolved) == closed
        assert len({e["properties"]["Ticket_id"] for e in resolved}) == closed
        assert all(e["backfill"] for e in opened + resolved)
        for e in opened[:: 97]:
            i = e["properties"]["Ticket_id"] - first_id
            expected = start.timestamp() + i * SPACING
            assert abs(datetime.fromisoformat(e["datetime"]).timestamp() - expected) < 1.5
            assert e["properties"]["Status"] == "new"
        assert all(e["properties"]["Status"] == "closed" for e in resolved)
    finally:
        stack.stop()


def test_backfill_skips_tickets_live_sync_already_recorded(bridge: Bridge) -> None:
    ticket = bridge.desk_ticket(requester_email="alice@example.com", subject="live",
                                body="recorded by the webhook")
    wait_for(lambda: bridge.klaviyo_events("Opened Ticket"), what="the live event")
    bridge.settle()
    calls = bridge.calls().get("klaviyo POST /api/event-bulk-create-jobs", 0)
    bridge.shift_zendesk_clock(120)
    since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    proc = run_backfill(bridge.stack, since)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "already recorded, skipped: 1" in out and "events sent: 0" in out
    assert bridge.calls().get("klaviyo POST /api/event-bulk-create-jobs", 0) == calls
    assert [e["properties"]["Ticket_id"] for e in bridge.klaviyo_events("Opened Ticket")] == [
        ticket["id"]]
