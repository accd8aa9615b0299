"""Zendesk OAuth end to end (#12): with the sandbox issuing 20-second tokens, texts, agent replies
and ticket metrics keep flowing across at least three expiries, every effect exactly once, and
the whole fleet (web, four worker processes, beat) asks for at most two tokens per expiry."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest
import requests

from tests.e2e.harness import AGENT_ANA, TOLL_FREE, Bridge, wait_for

pytestmark = pytest.mark.e2e
LIFETIME = 20
RENEWED_AFTER = LIFETIME - LIFETIME / 10          # a tenth before expiry
RUN_SECONDS = 3 * LIFETIME + 8                    # past three expiries


def oauth(bridge: Bridge, **change: object) -> dict:
    url = f"{bridge.sandbox}/_sandbox/zendesk/oauth"
    if change:
        requests.post(url, json=change, timeout=10).raise_for_status()
    return requests.get(url, timeout=10).json()


@pytest.fixture
def short_tokens(bridge: Bridge) -> Iterator[Bridge]:
    oauth(bridge, token_seconds=LIFETIME, reset=True)
    try:
        yield bridge
    finally:
        oauth(bridge, token_seconds=3600)


def texts_in_zendesk(bridge: Bridge, phone: str) -> list[str]:
    """The customer's texts as comments, over all their tickets, in order."""
    return [c["body"] for t in bridge.tickets_of(phone, TOLL_FREE)
            for c in bridge.comments(t["id"]) if c["public"] and c["author_id"] != AGENT_ANA]


def test_everything_flows_once_across_three_token_expiries(short_tokens: Bridge) -> None:
    bridge = short_tokens
    customers = bridge.make_customers(4)
    texts: dict[str, list[str]] = {p: [] for p in customers}
    replies: dict[str, list[str]] = {p: [] for p in customers}
    closed: list[int] = []
    started, step = time.monotonic(), 0
    while time.monotonic() - started < RUN_SECONDS:
        phone = customers[step % len(customers)]
        body = f"text {step} from {phone[-4:]}"
        bridge.text(phone, body)
        texts[phone].append(body)
        if step % 3 == 2 and bridge.tickets_of(phone):
            ticket = bridge.tickets_of(phone)[-1]
            if ticket["status"] != "closed":
                bridge.reply(ticket["id"], f"reply {step}")
                replies[phone].append(f"reply {step}")
        if step in (9, 18):                               # Resolved Ticket, mid-run
            wait_for(lambda p=phone: bridge.tickets_of(p), what="a ticket to close")
            bridge.settle()
            ticket_id = bridge.tickets_of(phone)[-1]["id"]
            bridge.set_status(ticket_id, "closed")
            closed.append(ticket_id)
        step += 1
        time.sleep(2.5)
    elapsed = time.monotonic() - started
    bridge.settle(timeout=120)

    for phone in customers:
        assert texts_in_zendesk(bridge, phone) == texts[phone], phone
        assert [m["body"] for m in bridge.replies_to(phone)] == replies[phone], phone
    tickets = [t["id"] for p in customers for t in bridge.tickets_of(p)]
    wait_for(lambda: len(bridge.klaviyo_events("Opened Ticket")) >= len(tickets),
             what="Opened Ticket for every ticket")
    opened = sorted(e["properties"]["Ticket_id"] for e in bridge.klaviyo_events("Opened Ticket"))
    resolved = sorted(e["properties"]["Ticket_id"]
                      for e in bridge.klaviyo_events("Resolved Ticket"))
    assert opened == sorted(tickets)
    assert resolved == sorted(closed)
    assert bridge.redis.hlen("zkb:failed") == 0, "no job failed"

    asked = oauth(bridge)["token_requests"]
    expiries = math.ceil(elapsed / RENEWED_AFTER)
    assert expiries >= 3
    print(f"token requests: {asked} over {elapsed:.0f} s ({expiries} renewals due)")
    assert 3 <= asked <= 2 * expiries, (asked, expiries)
