"""E7 (#16) receipt per brand: each Klaviyo account posts to `/webhooks/klaviyo/<brand>` and
signs with its own secret; the default brand keeps `/webhooks/klaviyo`. A brand's events are
kept and queued under refs naming the brand (`klaviyo@<brand>:<id>`), so two brands' events
never meet even with the same event id; brand B's secret opens no door of brand A's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.factories import brand_table
from tests.integration.conftest import Receiver
from tests.integration.support import (
    CUSTOMER,
    KLAVIYO_QUEUE,
    KLAVIYO_SECRET,
    RECEIVED_SMS,
    klaviyo_body,
    klaviyo_event,
    klaviyo_headers,
    post,
    queued,
)

BOLT_SECRET = "it-bolt-webhook-secret-18aa"
BRANDS = brand_table("bolt", "pk_it_bolt_key_51c3", BOLT_SECRET, ("+18005550200",))


@pytest.fixture
def two_brands(make_receiver: Callable[..., Receiver], tmp_path: Path) -> Receiver:
    path = tmp_path / "brands.toml"
    path.write_text(BRANDS)
    return make_receiver(BRANDS_FILE=str(path))


def test_a_brands_texts_are_kept_and_queued_under_refs_naming_it(two_brands: Receiver,
                                                                  r: redis.Redis) -> None:
    body = klaviyo_body([klaviyo_event("01JSAME")])
    ok = post(two_brands.client, "/webhooks/klaviyo/bolt", body,
              klaviyo_headers(body, secret=BOLT_SECRET))
    assert ok.status_code == 202, ok.get_json()
    again = post(two_brands.client, "/webhooks/klaviyo", body, klaviyo_headers(body))
    assert again.status_code == 202
    assert again.get_json()["duplicates"] == 0     # same id, another account: another event
    assert r.exists("zkb:ev:klaviyo@bolt:01JSAME") and r.exists("zkb:ev:klaviyo:01JSAME")
    refs = [t.args[0] for t in queued(r, KLAVIYO_QUEUE)]
    assert sorted(refs) == ["klaviyo:01JSAME", "klaviyo@bolt:01JSAME"]


def test_another_brands_secret_is_refused_on_either_route(two_brands: Receiver,
                                                          r: redis.Redis) -> None:
    body = klaviyo_body([klaviyo_event("01JWRONG")])
    on_bolt = post(two_brands.client, "/webhooks/klaviyo/bolt", body, klaviyo_headers(body))
    on_default = post(two_brands.client, "/webhooks/klaviyo", body,
                      klaviyo_headers(body, secret=BOLT_SECRET))
    assert (on_bolt.status_code, on_default.status_code) == (401, 401)
    assert on_bolt.get_json()["error"] == "bad_signature"
    assert not list(r.scan_iter(match="zkb:ev:*")) and r.llen(KLAVIYO_QUEUE) == 0


def test_an_unknown_brand_is_a_404_naming_the_problem(two_brands: Receiver,
                                                      r: redis.Redis) -> None:
    body = klaviyo_body([klaviyo_event("01JNOBODY")])
    resp = post(two_brands.client, "/webhooks/klaviyo/nobody", body,
                klaviyo_headers(body, secret=BOLT_SECRET))
    assert resp.status_code == 404
    assert resp.get_json()["error"] == "unknown_brand"
    assert "nobody" in resp.get_json()["message"]
    assert not list(r.scan_iter(match="zkb:ev:*"))


def test_the_default_brand_is_also_reachable_by_its_name(receiver: Receiver,
                                                         r: redis.Redis) -> None:
    body = klaviyo_body([klaviyo_event("01JDEF")])
    resp = post(receiver.client, "/webhooks/klaviyo/default", body,
                klaviyo_headers(body, secret=KLAVIYO_SECRET))
    assert resp.status_code == 202
    assert r.exists("zkb:ev:klaviyo:01JDEF")      # today's ref and key


def test_a_brands_campaign_receipt_for_a_customer_with_only_another_brands_ticket_is_not_queued(
        two_brands: Receiver, r: redis.Redis) -> None:
    """E6 + E7: Alice has an open ticket on bolt's number only; acme's campaign reaching her
    needs nothing (no task), bolt's does."""
    two_brands.store.open_sms.mark(CUSTOMER, "+18005550200", 77, "open")
    # a receipt: `To Number` is the customer, `From Number` the sender (a short code here)
    acme = klaviyo_body([klaviyo_event("01JACMESALE", topic=RECEIVED_SMS, customer="55555",
                                       brand=CUSTOMER)])
    bolt = klaviyo_body([klaviyo_event("01JBOLTSALE", topic=RECEIVED_SMS, customer="54321",
                                       brand=CUSTOMER)])
    assert post(two_brands.client, "/webhooks/klaviyo", acme,
                klaviyo_headers(acme)).get_json()["queued"] == 0
    assert post(two_brands.client, "/webhooks/klaviyo/bolt", bolt,
                klaviyo_headers(bolt, secret=BOLT_SECRET)).get_json()["queued"] == 1
    assert r.hget("zkb:ev:klaviyo:01JACMESALE", "reason") == b"no_open_ticket"


def test_a_brands_deliveries_and_refusals_are_counted_as_its_own(two_brands: Receiver,
                                                                 r: redis.Redis) -> None:
    body = klaviyo_body([klaviyo_event("01JCOUNT")])
    post(two_brands.client, "/webhooks/klaviyo/bolt", body,
         klaviyo_headers(body, secret=BOLT_SECRET))
    post(two_brands.client, "/webhooks/klaviyo/bolt", body, klaviyo_headers(body))
    post(two_brands.client, "/webhooks/klaviyo", body, klaviyo_headers(body))
    counters = {k.decode(): int(v) for k, v in r.hgetall("zkb:counters").items()}
    assert counters["klaviyo@bolt:received:"] == 1
    assert counters["klaviyo@bolt:rejected:bad_signature"] == 1
    assert counters["klaviyo:received:"] == 1          # the default brand's, as before
