"""E7 end to end (#16), real processes: two brands, one Zendesk. The default brand is the sandbox's
Klaviyo account acme (Zendesk brand 8001); bolt, from the brands file, is its second account
(Zendesk brand 8002, webhooks on /webhooks/klaviyo/bolt). Alice is a customer of both shops
with one phone.

- One phone texting both brands makes two tickets, each in its brand's Zendesk brand; an agent's
  reply on each leaves through that brand's Klaviyo account from the number texted (its echo
  makes no note); Opened and Resolved Ticket and `Open support tickets` land on that account's
  profile, never the other's: from webhooks, from a desk ticket's brand id alone, and from the
  catch-up sweep. Each brand's campaign notes only its own ticket of a shared customer.
- Each brand's route checks its own secret: bolt's body signed with acme's secret is refused
  (401), so is acme's route with bolt's secret; an unknown brand's route answers 404.
- Brand A's (acme) campaign receipts and metric backlog at full speed while brand B's (bolt)
  customers text: every B text lands exactly once, in order per customer (how long B waits is
  measured by bench/brands.py, not asserted here).
"""

from __future__ import annotations

import json

import pytest
import requests

from sandbox.klaviyo.webhooks import signed_headers
from sandbox.seed import ACME
from scripts.devstack import SANDBOX_KLAVIYO_SECRET, Stack
from tests.e2e.harness import (
    ACME_ZENDESK_BRAND,
    ALICE,
    BOLT,
    BOLT_LONG_CODE,
    BOLT_PROFILE,
    BOLT_TOLL_FREE,
    BOLT_ZENDESK_BRAND,
    PROFILE,
    SHORT_CODE,
    TOLL_FREE,
    Bridge,
    wait_for,
)

pytestmark = pytest.mark.e2e
OPENED, RESOLVED = "Opened Ticket", "Resolved Ticket"
BOLT_SECRET = "sandbox-bolt-webhook-secret"


@pytest.fixture
def stack(brands_stack: Stack) -> Stack:
    return brands_stack


def one_ticket(bridge: Bridge, phone: str, to: str) -> dict:
    wait_for(lambda: bridge.tickets_of(phone, to), what=f"a ticket for {phone} -> {to}")
    bridge.settle()
    tickets = bridge.tickets_of(phone, to)
    assert len(tickets) == 1, tickets
    return tickets[0]


def metric_events(bridge: Bridge, metric: str, account: str | None = None) -> dict[int, list]:
    """An account's `metric` events by ticket id."""
    out: dict[int, list] = {}
    for e in bridge.klaviyo_events(metric, account):
        out.setdefault(e["properties"].get("Ticket_id"), []).append(e)
    return out


def notes(bridge: Bridge, ticket_id: int) -> list[str]:
    return [c["body"] for c in bridge.comments(ticket_id) if not c["public"]]


def open_tickets_shown(bridge: Bridge) -> dict[str, object]:
    """`Open support tickets` (M5) on Alice's profile in each account."""
    shown = {}
    for account, alice in (("acme", PROFILE["alice"]), (BOLT, BOLT_PROFILE["alice"])):
        profiles = requests.get(f"{bridge.sandbox}/_sandbox/klaviyo/profiles",
                                params={"account": account}, timeout=10).json()
        shown[account] = next(p for p in profiles if p["id"] == alice)["properties"].get(
            "Open support tickets")
    return shown


def test_one_phone_texting_both_brands_gets_a_ticket_reply_and_metrics_per_brand(
        bridge: Bridge) -> None:
    bridge.text(ALICE, "Acme: where is my order?", to=TOLL_FREE)
    bridge.text(ALICE, "Bolt: my bike has a flat tyre", to=BOLT_TOLL_FREE)
    acme, bolt = one_ticket(bridge, ALICE, TOLL_FREE), one_ticket(bridge, ALICE, BOLT_TOLL_FREE)
    assert (acme["brand_id"], bolt["brand_id"]) == (ACME_ZENDESK_BRAND, BOLT_ZENDESK_BRAND)
    assert [c["body"] for c in bolt["comments"]] == ["Bolt: my bike has a flat tyre"]
    assert "bolt" in bolt["tags"] and "bolt" not in acme["tags"]       # the brand's own tags

    bridge.reply(acme["id"], "Acme here: it ships today.")
    bridge.reply(bolt["id"], "Bolt here: a new tube is on its way.")
    wait_for(lambda: bridge.replies_to(ALICE) and bridge.replies_to(ALICE, BOLT),
             what="both replies")
    bridge.settle()
    sent = {account: [(m["body"], m["brand_number"]) for m in bridge.replies_to(ALICE, account)]
            for account in ("acme", BOLT)}
    assert sent == {"acme": [("Acme here: it ships today.", TOLL_FREE)],
                    BOLT: [("Bolt here: a new tube is on its way.", BOLT_TOLL_FREE)]}
    conversations = requests.get(f"{bridge.sandbox}/_sandbox/klaviyo/conversations",
                                 params={"account": BOLT}, timeout=10).json()
    assert [(c["profile_id"], c["brand_number"]) for c in conversations] == [
        (BOLT_PROFILE["alice"], BOLT_TOLL_FREE)]
    # each account echoed its reply back (received_sms): known as the bridge's own, no note
    assert [notes(bridge, t["id"]) for t in (acme, bolt)] == [[], []]
    assert open_tickets_shown(bridge) == {"acme": 1, BOLT: 1}          # M5, per brand

    bridge.set_status(bolt["id"], "closed")
    wait_for(lambda: metric_events(bridge, RESOLVED, BOLT), what="bolt's Resolved Ticket")
    bridge.settle()
    assert open_tickets_shown(bridge) == {"acme": 1, BOLT: 0}
    opened = {a: metric_events(bridge, OPENED, a) for a in ("acme", BOLT)}
    assert {a: sorted(found) for a, found in opened.items()} == {
        "acme": [acme["id"]], BOLT: [bolt["id"]]}
    assert [e["profile_id"] for e in opened["acme"][acme["id"]]] == [PROFILE["alice"]]
    assert [e["profile_id"] for e in opened[BOLT][bolt["id"]]] == [BOLT_PROFILE["alice"]]
    assert sorted(metric_events(bridge, RESOLVED, BOLT)) == [bolt["id"]]
    assert metric_events(bridge, RESOLVED, "acme") == {}


def test_a_desk_ticket_in_bolts_zendesk_brand_records_its_metric_on_bolts_account(
        bridge: Bridge) -> None:
    """No SMS conversation to go by: the ticket's Zendesk brand id alone picks the account."""
    ticket = bridge.desk_ticket(requester_email="alice@example.com", requester_name="Alice Ames",
                                subject="Warranty", body="Is the frame covered?",
                                brand_id=BOLT_ZENDESK_BRAND)
    wait_for(lambda: metric_events(bridge, OPENED, BOLT), what="Opened Ticket on bolt")
    bridge.settle()
    events = metric_events(bridge, OPENED, BOLT)[ticket["id"]]
    assert [e["profile_id"] for e in events] == [BOLT_PROFILE["alice"]]
    assert metric_events(bridge, OPENED, "acme") == {}


def test_a_bolt_ticket_closed_silently_gets_resolved_ticket_on_bolt_from_the_sweep(
        bridge: Bridge) -> None:
    """M4 with brands: the catch-up sweep reads one Zendesk export for every brand and sends
    each missed metric to the account of its ticket's brand."""
    ticket = bridge.desk_ticket(requester_email="alice@example.com", subject="Old bike",
                                body="Auto-closed after 28 days", brand_id=BOLT_ZENDESK_BRAND)
    wait_for(lambda: metric_events(bridge, OPENED, BOLT), what="Opened Ticket on bolt")
    bridge.set_status(ticket["id"], "closed", silent=True)
    bridge.settle()
    bridge.shift_zendesk_clock(120)   # the export leaves out the last minute
    bridge.run_task("bridge.reconcile")
    wait_for(lambda: metric_events(bridge, RESOLVED, BOLT), what="Resolved Ticket on bolt")
    bridge.settle()
    resolved = metric_events(bridge, RESOLVED, BOLT)
    assert list(resolved) == [ticket["id"]] and len(resolved[ticket["id"]]) == 1
    assert resolved[ticket["id"]][0]["profile_id"] == BOLT_PROFILE["alice"]
    assert metric_events(bridge, RESOLVED, "acme") == {}
    assert metric_events(bridge, OPENED, "acme") == {}


def test_a_brands_campaign_notes_only_its_own_ticket_of_a_shared_customer(
        bridge: Bridge) -> None:
    bridge.text(ALICE, "acme question", to=TOLL_FREE)
    bridge.text(ALICE, "bolt question", to=BOLT_TOLL_FREE)
    acme, bolt = one_ticket(bridge, ALICE, TOLL_FREE), one_ticket(bridge, ALICE, BOLT_TOLL_FREE)
    bridge.campaign(ALICE, "Bolt: 10% off helmets", "Helmets", to_from=BOLT_LONG_CODE)
    bridge.campaign(ALICE, "Acme: free shipping", "Shipping", to_from=SHORT_CODE)
    wait_for(lambda: notes(bridge, acme["id"]) and notes(bridge, bolt["id"]), what="the notes")
    bridge.settle()
    assert notes(bridge, bolt["id"]) == ["Klaviyo campaign 'Helmets' sent: Bolt: 10% off helmets"]
    assert notes(bridge, acme["id"]) == ["Klaviyo campaign 'Shipping' sent: Acme: free shipping"]


def forged(body: str, text: str) -> bytes:
    """A delivered sent_sms body as another event: a new id and text (signed by the test)."""
    doc = json.loads(body)
    payload = doc["data"][0]["payload"]
    payload["id"] = doc["data"][0]["external_id"] = payload["id"][:-4] + "ZZZZ"
    payload["attributes"]["uuid"] = payload["attributes"]["uuid"][:-4] + "ffff"
    props = payload["attributes"]["event_properties"]
    key = next(k for k, v in props.items() if v == "signed by bolt")
    props[key] = text
    return json.dumps(doc).encode()


def test_each_brands_route_takes_only_its_own_accounts_signature(bridge: Bridge) -> None:
    sent = bridge.text(ALICE, "signed by bolt", to=BOLT_LONG_CODE)
    ticket = one_ticket(bridge, ALICE, BOLT_LONG_CODE)
    delivery = requests.get(f"{bridge.sandbox}/_sandbox/deliveries/{sent['delivery_id']}",
                            timeout=10).json()
    assert delivery["url"].endswith(f"/webhooks/klaviyo/{BOLT}")
    raw = forged(delivery["body"], "forged")
    bolt_id = json.loads(raw)["meta"]["klaviyo_webhook_id"]

    def post(path: str, secret: str, webhook_id: str = bolt_id) -> int:
        return requests.post(f"{bridge.stack.web_url}{path}", data=raw, timeout=10,
                             headers=signed_headers(secret, raw, webhook_id=webhook_id)
                             ).status_code

    assert post(f"/webhooks/klaviyo/{BOLT}", SANDBOX_KLAVIYO_SECRET) == 401   # acme's secret
    assert post("/webhooks/klaviyo", BOLT_SECRET, ACME.webhook_id) == 401    # bolt's, on acme's
    assert post("/webhooks/klaviyo/nosuchbrand", BOLT_SECRET) == 404
    bridge.settle()
    assert [c["body"] for c in bridge.comments(ticket["id"])] == ["signed by bolt"]
    assert len(bridge.tickets()) == 1
    assert post(f"/webhooks/klaviyo/{BOLT}", BOLT_SECRET) in (200, 202)     # the control
    wait_for(lambda: len(bridge.comments(ticket["id"])) == 2, what="the correctly signed text")
    assert [c["body"] for c in bridge.comments(ticket["id"])] == ["signed by bolt", "forged"]


FLOOD_OPEN, FLOOD_RECEIPTS, FLOOD_DESK = 30, 1000, 60     # brand A: acme
B_CUSTOMERS, B_TEXTS = 8, 5                               # brand B: bolt


def test_brand_bs_texts_land_once_and_in_order_while_brand_a_floods(bridge: Bridge) -> None:
    """Acme's campaign receipts (notes on 30 open tickets, 1,000 receipts without one) and a
    metric backlog (60 desk tickets' Opened Ticket) run while bolt's customers text: each bolt
    text is in its customer's one ticket, once, in the order sent."""
    regulars = bridge.make_customers(FLOOD_OPEN)
    for phone in regulars:
        bridge.text(phone, "a question for acme", to=SHORT_CODE)
    wait_for(lambda: len(bridge.tickets()) == FLOOD_OPEN, timeout=180, what="acme's tickets")
    bridge.settle(120)
    b_phones = bridge.make_customers(B_CUSTOMERS, BOLT, first=5000)
    crowd = bridge.make_customers(FLOOD_RECEIPTS, first=100)

    sent = bridge.campaign_batch(regulars + crowd, "Spring sale: 20% off", "Spring",
                                 sender=SHORT_CODE)
    assert sent["sent"] == FLOOD_OPEN + FLOOD_RECEIPTS
    desk = [bridge.desk_ticket(requester_email=f"shopper{i}@example.com", subject=f"Order {i}",
                               body="Where is it?")["id"] for i in range(FLOOD_DESK)]
    expected = {p: [f"bolt text {n} from {p[-4:]}" for n in range(B_TEXTS)] for p in b_phones}
    # the flood is running as B starts texting (else B's texts would meet an idle bridge)
    assert len(metric_events(bridge, OPENED)) < FLOOD_OPEN + FLOOD_DESK
    for n in range(B_TEXTS):                          # interleaved, one text a call
        for phone in b_phones:
            bridge.text(phone, expected[phone][n], to=BOLT_TOLL_FREE)

    def landed() -> dict[str, list[str]]:
        return {p: [c["body"] for t in bridge.tickets_of(p, BOLT_TOLL_FREE)
                    for c in t["comments"] if c["public"]] for p in b_phones}

    wait_for(lambda: all(len(v) >= B_TEXTS for v in landed().values()), timeout=600,
             what="every bolt text in its ticket", every=2)
    wait_for(lambda: len(metric_events(bridge, OPENED)) >= FLOOD_OPEN + FLOOD_DESK,
             timeout=600, what="acme's Opened Ticket backlog", every=2)
    bridge.settle(600)
    assert landed() == expected
    assert all(len(bridge.tickets_of(p, BOLT_TOLL_FREE)) == 1 for p in b_phones)
    assert {t["brand_id"] for p in b_phones for t in bridge.tickets_of(p, BOLT_TOLL_FREE)} == {
        BOLT_ZENDESK_BRAND}
    noted = [[c["body"] for c in t["comments"] if not c["public"]]
             for t in bridge.tickets() if t["id"] not in desk and t["brand_id"] ==
             ACME_ZENDESK_BRAND]
    note = "Klaviyo flow 'Spring' sent: Spring sale: 20% off"
    assert len(noted) == FLOOD_OPEN and [n for n in noted if n != [note]] == []
    opened_acme = metric_events(bridge, OPENED)
    assert set(desk) <= set(opened_acme) and all(len(v) == 1 for v in opened_acme.values())
    opened_bolt = metric_events(bridge, OPENED, BOLT)
    assert len(opened_bolt) == B_CUSTOMERS and not set(opened_bolt) & set(opened_acme)
