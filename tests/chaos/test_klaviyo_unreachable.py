"""Chaos 6b (A6, issue 14): Klaviyo carries out a reply's send but its answer is lost, then stays
unreachable for 3 minutes (every API call hangs past the bridge's timeout, no webhook leaves).

The bridge looks for evidence for `REPLY_CONFIRM_SECONDS` (the default 120 s) and a few look-ups
more, cannot tell whether the reply went out, and so does not send it twice: one internal note on
the ticket tells the agent, and the reply waits in failed jobs as `ReplyOutcomeUnknown`. When
Klaviyo is back nothing happens by itself; the replay (`zkbridge failed replay`) looks again,
finds the message in the profile's `Received SMS` events and records it as sent: one SMS in all.
One reply is enough; the run takes about 4 minutes, nearly all of it the outage.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.chaos.report import ChaosReport, tally
from tests.chaos.support import (
    broker_idle,
    chaos_stack,
    clear_faults,
    failed_jobs,
    set_faults,
    wait_until,
)
from tests.e2e.harness import Bridge

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

OUTAGE = 180.0          # seconds Klaviyo stays unreachable after the lost answer (at least)
REPLY = "Your parcel left the warehouse today."
NOTE = "may not have reached the customer"
ENV = {"HTTP_TIMEOUT_SECONDS": "2"}      # the sandbox hangs 3 s: the bridge hears nothing


@pytest.mark.timeout(OUTAGE + 420)
def test_klaviyo_unreachable_after_a_lost_answer_leaves_a_note_and_a_failed_job_not_two_sms(
        tmp_path: Path, record_property) -> None:  # noqa: ANN001 - pytest fixture
    report = ChaosReport("klaviyo-unreachable-after-a-lost-answer")
    report.events_in = 1
    with chaos_stack(tmp_path, ENV) as (stack, bridge):
        [phone] = bridge.make_customers(1)
        ticket = open_ticket(bridge, phone)
        hook = webhook_url(bridge, None)       # an unreachable Klaviyo sends no webhooks either
        set_faults(bridge, "klaviyo", applied_timeout_rate=1, timeout_seconds=3,
                   only="POST /api/conversation-messages")
        bridge.reply(ticket, REPLY)
        wait_until(lambda: bridge.replies_to(phone), 60, "the send to be carried out")
        set_faults(bridge, "klaviyo", applied_timeout_rate=0, timeout_rate=1, only="")
        down = time.monotonic()
        during: dict[str, Any] = {}
        try:
            wait_until(lambda: len(failed_jobs(bridge)) == 1, OUTAGE + 120,
                       "the reply to be set aside while Klaviyo is unreachable", every=2)
            report.notes["set_aside_after_s"] = f"{time.monotonic() - down:.0f}"
            time.sleep(max(0.0, OUTAGE - (time.monotonic() - down)))
            during = snapshot(bridge, phone, ticket)
            clear_faults(bridge)
            webhook_url(bridge, hook)
            report.notes["outage_s"] = f"{time.monotonic() - down:.0f}"
            wait_until(lambda: broker_idle(bridge), 60, "nothing left to run")
            back = snapshot(bridge, phone, ticket)     # Klaviyo back, nobody replayed yet
            replay(bridge, stack.env())
            wait_until(lambda: not failed_jobs(bridge) and broker_idle(bridge), 90,
                       "the replay to settle the reply")
        finally:
            after = snapshot(bridge, phone, ticket)
            report.add("sms", tally([REPLY], after["sms"]))
            report.notes.update({"end_of_outage": counts(during), "after_replay": counts(after),
                                 "settled_sent": after.get("settled_sent")})
            report.emit(record_property)
        assert during["sms"] == [REPLY] and during["failed"] == ["ReplyOutcomeUnknown"]
        assert len(during["notes"]) == 1 and NOTE in during["notes"][0]
        assert back["sms"] == [REPLY] and back["failed"] == ["ReplyOutcomeUnknown"]
        assert after["sms"] == [REPLY], "the reply reached the customer twice"
        assert after["failed"] == [] and after["settled_sent"] == 1
        assert after["resent"] == 0 and after["notes"] == during["notes"]


def open_ticket(bridge: Bridge, phone: str) -> int:
    bridge.text(phone, "where is my parcel?")
    wait_until(lambda: bridge.tickets_of(phone), 60, "the customer's ticket")
    bridge.settle()
    return int(bridge.tickets_of(phone)[0]["id"])


def webhook_url(bridge: Bridge, url: str | None) -> str | None:
    """Point the sandbox's Klaviyo webhooks at `url` (None: none leave); the previous URL."""
    config = f"{bridge.sandbox}/_sandbox/config"
    previous = requests.get(config, timeout=10).json()["klaviyo_webhook_url"]
    requests.post(config, json={"klaviyo_webhook_url": url}, timeout=10).raise_for_status()
    return previous


def snapshot(bridge: Bridge, phone: str, ticket: int) -> dict[str, Any]:
    """What the customer, the agent and the operator see now."""
    counters = bridge.counters()
    return {"sms": [m["body"] for m in bridge.replies_to(phone)],
            "notes": [c["body"] for c in bridge.comments(ticket) if not c["public"]],
            "failed": [f["error"] for f in failed_jobs(bridge).values()],
            "settled_sent": counters.get("agent_reply:settled:sent", 0),
            "resent": counters.get("agent_reply:settled:resent", 0)}


def counts(snap: dict[str, Any]) -> str:
    """`sms:1,notes:1,failed:1` for the report line."""
    return ",".join(f"{k}:{len(snap[k])}" for k in ("sms", "notes", "failed") if k in snap)


def replay(bridge: Bridge, env: dict[str, str]) -> None:
    """`zkbridge failed replay <ref>`, as an operator runs it (docs/operations.md)."""
    [ref] = failed_jobs(bridge)
    done = subprocess.run([sys.executable, "-m", "cli.main", "failed", "replay", ref],
                          env={**env, "PYTHONIOENCODING": "utf-8"}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr

