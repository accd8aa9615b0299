"""Chaos 3: webhooks arrive twice, many times, out of order, and too late (E1, E4, S7).

- Texts of three customers first reach the receiver in a shuffled order (their first
  deliveries were refused, then redelivered shuffled, inside the `INBOUND_SETTLE_MS` window)
  and each is redelivered five more times: each lands once, in send order.
- Every Zendesk delivery (ticket created, agent replies, status changes, closures) is
  redelivered four times, shuffled, and posted once more under a new event id (past the
  receiver's id check): one Opened Ticket per ticket, one Resolved Ticket per closed ticket,
  one SMS per agent reply.
- A delivery replayed with a signature timestamp more than 5 minutes old (or ahead) is refused
  with 401, counted, and has no effect; the same body signed now is taken (the control).
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from pathlib import Path

import pytest
import requests

from scripts.devstack import SANDBOX_KLAVIYO_SECRET, SANDBOX_ZENDESK_SECRET
from tests.chaos.report import ChaosReport, tally
from tests.chaos.support import (
    all_sms,
    broker_idle,
    chaos_stack,
    outbox_idle,
    texts_landed,
    wait_delivered,
    wait_until,
)
from tests.e2e.harness import TOLL_FREE, Bridge
from tests.support.signing import klaviyo_headers, zendesk_headers

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

TEXTS_EACH = 8
REDELIVERIES = 5
TEXT = re.compile(r"reorder \d-\d")
STALE = 400            # seconds: beyond the receiver's 300 s tolerance
ENV = {"INBOUND_SETTLE_MS": "1500"}   # the tolerance for texts overtaking each other


@pytest.mark.timeout(240)
def test_duplicate_reordered_and_stale_webhooks_change_nothing(
        tmp_path: Path, record_property) -> None:  # noqa: ANN001 - pytest fixture
    report = ChaosReport("webhook-replays")
    rng = random.Random(7)
    with chaos_stack(tmp_path, ENV) as (_stack, bridge):
        phones = bridge.make_customers(4)
        customers, control = phones[:3], phones[3]

        # 1. Texts refused at first (wrong secret: 401, dropped), so nothing is acknowledged
        # until they are redelivered below, shuffled.
        bridge.set_config(klaviyo_webhook_secret="not-the-receivers-secret")
        sent = {p: [f"reorder {i}-{n}" for n in range(TEXTS_EACH)]
                for i, p in enumerate(customers)}
        text_deliveries = [bridge.text(p, sent[p][n])["delivery_id"]
                           for n in range(TEXTS_EACH) for p in customers]
        stale_source = bridge.text(control, "sent long ago")["delivery_id"]
        refused = wait_delivered(bridge, [*text_deliveries, stale_source])
        assert all(d["status"] == "dropped" for d in refused.values())
        bridge.set_config(klaviyo_webhook_secret=SANDBOX_KLAVIYO_SECRET)

        shuffled = text_deliveries[:]
        rng.shuffle(shuffled)
        for d in shuffled:                      # first arrival: shuffled, within the window
            bridge.redeliver(d)
        for _ in range(REDELIVERIES):           # and again, and again
            rng.shuffle(shuffled)
            for d in shuffled:
                bridge.redeliver(d)
        wait_until(lambda: all(bridge.tickets_of(p) for p in customers), 60, "tickets")

        # 2. Stale and future signatures on a real delivery's body: 401, no effect.
        body = refused[stale_source]["body"].encode()
        now = time.time()
        stale = _post_klaviyo(bridge, body, now - STALE)
        future = _post_klaviyo(bridge, body, now + STALE)
        zd_created = next(d for d in bridge.deliveries("zendesk")
                          if json.loads(d["body"])["type"].endswith("ticket.created"))
        zd_stale = _post_zendesk(bridge, zd_created["body"].encode(), now - STALE)

        # 3. Zendesk side: replies, a status change and desk tickets closed; then every
        # Zendesk delivery so far comes again, four times, shuffled.
        replies = {}
        for p in customers:
            ticket = bridge.tickets_of(p)[0]["id"]
            replies[p] = [f"agent says {p[-2:]}-{n}" for n in range(2)]
            for b in replies[p]:
                bridge.reply(ticket, b)
        bridge.set_status(bridge.tickets_of(customers[0])[0]["id"], "pending")
        desk = [bridge.desk_ticket(requester_email=f"replay{n}@chaos.example.com",
                                   subject=f"replay {n}", body="please")["id"] for n in range(3)]
        for t in desk:
            bridge.set_status(t, "closed")
        wait_until(lambda: outbox_idle(bridge), 60, "Zendesk deliveries")
        wait_until(lambda: len([m for m in all_sms(bridge) if m["source"] == "conversation"])
                   >= 2 * len(customers), 60, "the replies")
        originals = bridge.deliveries("zendesk")
        zendesk = [d["id"] for d in originals]
        for _ in range(4):
            rng.shuffle(zendesk)
            for d in zendesk:
                bridge.redeliver(d)
        # The same changes once more under new event ids: past the receiver's id check, so
        # the handlers' own guards (done-markers, the reply's sending/sent record) must hold.
        for d in originals:
            doc = json.loads(d["body"])
            doc["id"] = str(uuid.uuid4())
            assert _post_zendesk(bridge, json.dumps(doc).encode(), time.time()).status_code \
                == 202
        wait_until(lambda: outbox_idle(bridge) and broker_idle(bridge), 90, "quiet", 0.5)

        # What landed before the control, then the control: the same stale body signed now.
        tickets = bridge.tickets()
        landed = texts_landed(tickets, TEXT)
        control_before = bridge.tickets_of(control)
        fresh = _post_klaviyo(bridge, body, time.time())
        wait_until(lambda: bridge.tickets_of(control), 30, "the control text")

        counters = bridge.counters()
        report.events_in = (len(text_deliveries) * (REDELIVERIES + 1) + 3
                            + len(zendesk) * 6)
        texts = report.add("texts", tally(
            [b for p in customers for b in sent[p]],
            [b for v in landed.values() for b in v]))
        out_of_order = [p for p in customers
                        if landed.get(f"zkb-sms:{p}:{TOLL_FREE}") != sent[p]]
        sms = [m for m in all_sms(bridge) if m["source"] == "conversation"]
        reply_t = report.add("replies", tally([b for v in replies.values() for b in v],
                                              [m["body"] for m in sms]))
        all_ids = [t["id"] for t in bridge.tickets() if t["external_id"] !=
                   f"zkb-sms:{control}:{TOLL_FREE}"]
        opened = report.add("opened", tally(all_ids, [
            e["properties"]["Ticket_id"] for e in bridge.klaviyo_events("Opened Ticket")
            if e["properties"]["Ticket_id"] in all_ids]))
        resolved = report.add("resolved", tally(desk, [
            e["properties"]["Ticket_id"] for e in bridge.klaviyo_events("Resolved Ticket")]))
        report.notes["401s"] = (f"stale={counters.get('klaviyo:rejected:stale_timestamp', 0)}"
                                f"+{counters.get('zendesk:rejected:stale_timestamp', 0)},"
                                f"future={counters.get('klaviyo:rejected:future_timestamp', 0)}")
        report.notes["bad_signature_401s"] = counters.get("klaviyo:rejected:bad_signature", 0)
        report.notes["out_of_order"] = len(out_of_order)
        report.emit(record_property)

        assert (stale.status_code, stale.json()["error"]) == (401, "stale_timestamp")
        assert (future.status_code, future.json()["error"]) == (401, "future_timestamp")
        assert (zd_stale.status_code, zd_stale.json()["error"]) == (401, "stale_timestamp")
        assert counters.get("klaviyo:rejected:stale_timestamp") == 1
        assert counters.get("klaviyo:rejected:future_timestamp") == 1
        assert counters.get("zendesk:rejected:stale_timestamp") == 1
        assert control_before == [], "a refused delivery had an effect"
        assert fresh.status_code == 202
        assert texts.duplicates == 0 and not texts.lost and not texts.unexpected
        assert not out_of_order, {p: landed.get(f"zkb-sms:{p}:{TOLL_FREE}") for p in
                                  out_of_order}
        assert reply_t.duplicates == 0 and not reply_t.lost and not reply_t.unexpected
        assert opened.duplicates == 0 and not opened.lost
        assert resolved.duplicates == 0 and not resolved.lost and not resolved.unexpected


def _post_klaviyo(bridge: Bridge, body: bytes, at: float) -> requests.Response:
    """A Klaviyo system-webhook delivery signed (our own signer) as of `at`."""
    return requests.post(f"{bridge.stack.web_url}/webhooks/klaviyo", data=body, timeout=10,
                         headers=klaviyo_headers(body, SANDBOX_KLAVIYO_SECRET, at))


def _post_zendesk(bridge: Bridge, body: bytes, at: float) -> requests.Response:
    return requests.post(f"{bridge.stack.web_url}/webhooks/zendesk", data=body, timeout=10,
                         headers=zendesk_headers(body, SANDBOX_ZENDESK_SECRET, at))


@pytest.mark.timeout(120)
def test_agent_replies_whose_webhooks_arrive_reversed_still_go_out_in_comment_order(
        tmp_path: Path) -> None:
    """A6 order across reordered deliveries: the head reply waits REPLY_SETTLE_MS (1 s) for
    earlier comments still in flight, and the five redeliveries land within it."""
    with chaos_stack(tmp_path, {}) as (_stack, bridge):
        phone = bridge.make_customers(1)[0]
        bridge.text(phone, "hello")
        wait_until(lambda: bridge.tickets_of(phone), 30, "the ticket", 0.2)
        wait_until(lambda: outbox_idle(bridge) and broker_idle(bridge), 30, "quiet", 0.2)
        ticket = bridge.tickets_of(phone)[0]["id"]
        bridge.set_config(zendesk_webhook_secret="not-the-receivers-secret")
        bodies = [f"reply {n}" for n in range(5)]
        for b in bodies:
            bridge.reply(ticket, b)
        wait_until(lambda: outbox_idle(bridge), 30, "the refused deliveries", 0.2)
        refused = [d["id"] for d in bridge.deliveries("zendesk")
                   if json.loads(d["body"])["type"].endswith("comment_added")
                   and d["status"] == "dropped"]
        bridge.set_config(zendesk_webhook_secret=SANDBOX_ZENDESK_SECRET)
        for d in reversed(refused):             # within a few milliseconds, newest first
            bridge.redeliver(d)
        wait_until(lambda: len([m for m in bridge.replies_to(phone)]) >= len(bodies), 60,
                   "the replies", 0.5)
        assert [m["body"] for m in bridge.replies_to(phone)] == bodies
