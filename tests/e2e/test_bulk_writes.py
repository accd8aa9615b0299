"""E6 bulk writes end to end (#11), real processes: a backlog of 600 texts (half of them opening
new conversations) is more than the bridge's Zendesk budget (200 requests, 100 ticket updates a
minute) takes as single calls, so most of it drains through bulk jobs. Every text lands exactly
once, in order per customer; follow-ups of tickets Zendesk closed silently become follow-up
tickets (the update_many item is refused as closed and the text decided again, S4); a ticket
that refuses every comment sends its texts to failed jobs, and `zkbridge failed replay` lands
them once the ticket takes comments again; a worker SIGKILLed while a job is in flight (between
its submit and its answer) loses nothing and doubles nothing (E1)."""

from __future__ import annotations

import json
import signal
import time

import pytest
import requests

from tests.e2e.harness import TOLL_FREE, Bridge, wait_for
from tests.e2e.test_operations import failed_jobs, zkbridge

pytestmark = pytest.mark.e2e

NEW, KNOWN, TEXTS_EACH = 300, 100, 3      # 300 + 100 x 3 = 600 texts
CLOSED = 10                               # known customers whose ticket Zendesk closed
CAP = 6                                   # comments a ticket may hold while the test runs


def by_customer(bridge: Bridge) -> dict[str, list[dict]]:
    """Every customer's SMS tickets, oldest first, from one read of the sandbox."""
    out: dict[str, list[dict]] = {}
    for t in sorted(bridge.tickets(), key=lambda t: t["id"]):
        if (t.get("external_id") or "").startswith("zkb-sms:"):
            out.setdefault(t["external_id"].split(":")[1], []).append(t)
    return out


def public_bodies(tickets: list[dict]) -> list[str]:
    return [c["body"] for t in tickets for c in t["comments"] if c["public"]]


def in_flight_job(bridge: Bridge) -> bool:
    """A bulk job was submitted and its id recorded, and its answer is not taken yet."""
    for raw in bridge.redis.mget([f"zkb:bulk:batch:{b.decode()}"
                                  for b in bridge.redis.zrange("zkb:bulk:batches", 0, -1)]):
        if raw and json.loads(raw).get("job_id"):
            return True
    return False


def set_cap(bridge: Bridge, cap: int) -> None:
    requests.post(f"{bridge.sandbox}/_sandbox/zendesk/comment_cap", json={"comment_cap": cap},
                  timeout=10).raise_for_status()


def open_known(bridge: Bridge, phones: list[str]) -> dict[str, int]:
    for i in range(0, len(phones), 100):
        bridge.text_batch([{"from": p, "to": TOLL_FREE, "body": "hello"}
                           for p in phones[i:i + 100]])
    wait_for(lambda: len(by_customer(bridge)) >= len(phones), timeout=120,
             what="the known customers' tickets")
    bridge.settle(timeout=120)
    everything = by_customer(bridge)
    return {p: everything[p][0]["id"] for p in phones}


def flood(bridge: Bridge, new: list[str], known: list[str]) -> None:
    """Round by round, so each customer's texts are sent in order."""
    messages = [{"from": p, "to": TOLL_FREE, "body": f"new {p[-4:]}"} for p in new]
    for i in range(TEXTS_EACH):
        messages += [{"from": p, "to": TOLL_FREE, "body": f"{p[-4:]} text {i}"} for p in known]
    for i in range(0, len(messages), 100):
        bridge.text_batch(messages[i:i + 100])


def test_a_backlog_of_600_texts_drains_through_bulk_jobs_exactly_once_and_in_order(
        bridge: Bridge) -> None:
    phones = bridge.make_customers(NEW + KNOWN)
    new, known = phones[:NEW], phones[NEW:]
    tickets = open_known(bridge, known)
    for p in known[:CLOSED]:                 # Zendesk's own auto-close: no webhook, cache stale
        bridge.set_status(tickets[p], "closed", silent=True)
    full = known[-1]
    for i in range(CAP - 1):                 # the last customer's ticket holds CAP comments
        requests.post(f"{bridge.sandbox}/_sandbox/zendesk/tickets/{tickets[full]}/comments",
                      json={"body": f"note {i}", "public": False},
                      timeout=10).raise_for_status()
    set_cap(bridge, CAP)
    try:
        flood(bridge, new, known)
        wait_for(lambda: in_flight_job(bridge), timeout=60, every=0.05,
                 what="a bulk job in flight")
        bridge.stack.kill("worker", signal.SIGKILL)
        bridge.stack.start_process("worker")
        wait_for(lambda: len(failed_jobs(bridge)) >= TEXTS_EACH, timeout=150,
                 what="the full ticket's texts in failed jobs")
        bridge.settle(timeout=150)
    finally:
        set_cap(bridge, 5000)
    assert sum(n for k, n in bridge.calls().items() if "_many" in k) > 0
    _check_every_text_once_in_order(bridge, new, known, tickets, full)
    _replay_the_refused(bridge, full)


def _check_every_text_once_in_order(bridge: Bridge, new: list[str], known: list[str],
                                    tickets: dict[str, int], full: str) -> None:
    everything = by_customer(bridge)
    for p in new:
        assert public_bodies(everything[p]) == [f"new {p[-4:]}"], p
    for p in known[:CLOSED]:
        follow_ups = [t for t in everything[p] if t["id"] != tickets[p]]
        assert len(follow_ups) == 1 and follow_ups[0]["via"]["source"]["rel"] == "follow_up", p
    for p in known:
        texts = [f"{p[-4:]} text {i}" for i in range(TEXTS_EACH)]
        assert public_bodies(everything[p]) == ["hello", *([] if p == full else texts)], p
    assert set(failed_jobs(bridge)) and all(
        e["error"] == "Permanent" for e in failed_jobs(bridge).values()), failed_jobs(bridge)


def _replay_the_refused(bridge: Bridge, full: str) -> None:
    for ref in sorted(failed_jobs(bridge), key=lambda r: failed_jobs(bridge)[r]["first_failure"]):
        done = zkbridge(bridge, "failed", "replay", ref)
        assert done.returncode == 0 and f"{ref}: replayed" in done.stdout, done.stdout
        time.sleep(0.2)
    wait_for(lambda: not failed_jobs(bridge), timeout=60, what="the replays to land")
    bridge.settle()
    assert public_bodies(bridge.tickets_of(full)) == ["hello", *[f"{full[-4:]} text {i}"
                                                                 for i in range(TEXTS_EACH)]]
