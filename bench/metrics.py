"""Ticket metrics: events/s and Klaviyo calls per event, for live sync and for the backfill.

Live sync: N tickets created in the sandbox desk, each firing `ticket.created`; the bridge
records one `Opened Ticket` per ticket (one Zendesk read + one Klaviyo call each). Backfill:
M past tickets seeded without webhooks, then `zkbridge backfill`. Baseline in the same run:
Klaviyo calls if every event were sent one per call (the live path's cost), beside the bulk
calls the backfill used. Sandbox limits and the bridge's budgets are raised for the run so
the figures are the bridge's own speed; at production limits Zendesk's 200 reads/min bounds
live sync at 200 events/min.

    .venv/bin/python -m bench.metrics [--live 300] [--backfill 5000]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from bench.report import machine, write_section
from scripts.devstack import Stack
from tests.e2e.harness import Bridge, wait_for

HIGH = {"ZENDESK_REQUESTS_PER_MINUTE": "1000000", "ZENDESK_UPDATES_PER_MINUTE": "1000000",
        "KLAVIYO_EVENTS_PER_MINUTE": "1000000", "KLAVIYO_PROFILES_PER_MINUTE": "1000000",
        "ZENDESK_EXPORTS_PER_MINUTE": "1000000"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live", type=int, default=300)
    parser.add_argument("--backfill", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(workdir=Path(tmp), extra_env=HIGH)
        try:
            stack.start()
            bridge = Bridge(stack)
            for bucket in ("zendesk", "zendesk:update_ticket", "zendesk:incremental",
                           "klaviyo:events", "klaviyo:bulk-events", "klaviyo:profiles"):
                bridge.set_limit(bucket, [[10**9, 1]])
            about = machine(stack.redis_url or "")
            live = live_sync(bridge, args.live)
            back = backfill(bridge, stack, args.backfill)
        finally:
            stack.stop()
    report(args, about, live, back)


def live_sync(bridge: Bridge, count: int) -> dict[str, float]:
    bridge.reset_calls()
    started = time.time()
    for i in range(count):
        bridge.desk_ticket(requester_email=f"bench{i % 50}@example.com", subject=f"bench {i}",
                           body="metrics benchmark")
    wait_for(lambda: len(bridge.klaviyo_events("Opened Ticket")) >= count,
             timeout=count + 120, what="every Opened Ticket")
    elapsed = time.time() - started
    calls = bridge.calls()
    return {"events": count, "seconds": elapsed,
            "klaviyo": calls.get("klaviyo POST /api/events", 0) / count,
            "zendesk": calls.get("zendesk GET /api/v2/tickets/{id}", 0) / count}


def backfill(bridge: Bridge, stack: Stack, count: int) -> dict[str, float]:
    bridge.reset_calls()
    start = datetime.now(UTC) - timedelta(days=30)
    requests.post(f"{stack.sandbox_url}/_sandbox/zendesk/tickets/bulk", timeout=60, json={
        "count": count, "start_time": start.timestamp(), "spacing_seconds": 300,
        "closed_every": 3}).raise_for_status()
    cli = Path(sys.executable).parent / "zkbridge"
    started = time.time()
    out = subprocess.run([str(cli), "backfill", "--since",
                          (start - timedelta(days=1)).date().isoformat(), "--quiet"],
                         env=stack.env(), capture_output=True, text=True, check=True).stdout
    elapsed = time.time() - started
    sent = int(re.search(r"events sent: (\d+)", out)[1])
    bulk = int(re.search(r"Klaviyo calls: (\d+) bulk", out)[1])
    return {"tickets": count, "events": sent, "seconds": elapsed, "bulk_calls": bulk}


def report(args: argparse.Namespace, about: str, live: dict[str, float],
           back: dict[str, float]) -> None:
    live_rate = live["events"] / live["seconds"]
    back_rate = back["events"] / back["seconds"]
    back_per_event = back["bulk_calls"] / back["events"]
    print(f"live sync: {live['events']:.0f} events in {live['seconds']:.1f} s = "
          f"{live_rate:.1f}/s, Klaviyo calls/event {live['klaviyo']:.2f}, Zendesk reads/event "
          f"{live['zendesk']:.2f}")
    print(f"backfill: {back['events']:.0f} events ({back['tickets']:.0f} tickets) in "
          f"{back['seconds']:.1f} s = {back_rate:.0f}/s, {back['bulk_calls']:.0f} bulk calls = "
          f"{back_per_event:.4f} Klaviyo calls/event (one per event: {back['events']:.0f})")
    header = ("| path | events | seconds | events/s | Klaviyo calls per event "
              "| baseline: calls per event one by one |")
    rows = (f"| live sync | {live['events']:.0f} | {live['seconds']:.1f} | {live_rate:.1f} | "
            f"{live['klaviyo']:.2f} | 1.00 |\n"
            f"| backfill | {back['events']:.0f} | {back['seconds']:.1f} | {back_rate:.0f} | "
            f"{back_per_event:.4f} | 1.00 |")
    write_section("metrics", f"""
## Ticket metrics: live sync and backfill (`bench/metrics.py`)

Machine: {about}.
Command: `.venv/bin/python -m bench.metrics --live {args.live} --backfill {args.backfill}`

Real processes (sandbox, web, worker, beat, redis-server); sandbox limits and the bridge's
shared budgets raised for the run, so these are the bridge's own figures. Live sync: tickets
created one after another in the desk, each firing `ticket.created` (time from the first
creation to the last `Opened Ticket` stored). Backfill: past tickets seeded without webhooks,
every third closed, then `zkbridge backfill` as a subprocess.

{header}
| --- | ---: | ---: | ---: | ---: | ---: |
{rows}

Live sync also reads the ticket once per event from Zendesk ({live['zendesk']:.2f} reads per
event), so at Zendesk's Team plan (200 requests/min) it is bounded at 200 events/min; the
bulk path used by the backfill (and by live sync under a burst) needs one Klaviyo call per
up to 1000 events.
""")


if __name__ == "__main__":
    main()
