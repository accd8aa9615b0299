"""The /ops page with several brands (E7, #16; docs/brands.md item 6), against a real Redis: a
brand selector, failed jobs and outcome counters by brand, replay/purge of one brand's jobs
only, each job acted on in its brand's scope; with one brand the page has no selector."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import redis

from bridge.domain.brand_scope import scope
from bridge.errors import Permanent
from tests.factories import brand_table
from tests.integration.conftest import Receiver
from tests.integration.support import (
    KLAVIYO_QUEUE,
    klaviyo_body,
    klaviyo_event,
    klaviyo_headers,
    queued,
)
from tests.integration.test_ops_page import BEARER, TOKEN

SHOP2_SECRET = "it-shop2-webhook-secret-77"
SHOP2_NUMBER = "+18005550199"
BRANDS = brand_table("shop2", "pk_it_shop2_key", SHOP2_SECRET, (SHOP2_NUMBER,))


def two_brands(make_receiver: Callable[..., Receiver], tmp_path: Path) -> Receiver:
    path = tmp_path / "brands.toml"
    path.write_text(BRANDS)
    return make_receiver(OPS_TOKEN=TOKEN, BRANDS_FILE=str(path))


def fail_text(receiver: Receiver, r: redis.Redis, event_id: str, brand: str) -> str:
    """A text received on the brand's webhook that a worker then gave up on (as the Runner
    leaves it, in the brand's scope)."""
    path, secret, number = (("/webhooks/klaviyo", None, None) if brand == "default"
                            else (f"/webhooks/klaviyo/{brand}", SHOP2_SECRET, SHOP2_NUMBER))
    body = klaviyo_body([klaviyo_event(event_id, **({"brand": number} if number else {}))])
    headers = klaviyo_headers(body, **({"secret": secret} if secret else {}))
    assert receiver.client.post(path, data=body, headers=headers).status_code == 202
    ref = f"klaviyo:{event_id}" if brand == "default" else f"klaviyo@{brand}:{event_id}"
    with scope(brand):
        receiver.store.events.update_event(ref, state="failed", attempts=4)
        receiver.store.outcomes.record_failure(ref, "bridge.inbound_sms", RuntimeError("boom"),
                                               4, time.time())
        receiver.store.outcomes.count("inbound_sms", "failed", "RuntimeError")
    for key in r.scan_iter(match="zkb:convq:*"):
        r.delete(key)
    r.delete(KLAVIYO_QUEUE)
    return ref


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def listed(html: str) -> list[str]:
    return re.findall(r'data-testid="failed-job" data-ref="([^"]+)"', html)


def test_the_brand_selector_filters_failed_jobs_and_outcomes(
        make_receiver: Callable[..., Receiver], r: redis.Redis, tmp_path: Path) -> None:
    receiver = two_brands(make_receiver, tmp_path)
    mine = fail_text(receiver, r, "01JOPSBRANDA", "default")
    theirs = fail_text(receiver, r, "01JOPSBRANDB", "shop2")
    with scope("shop2"):
        receiver.store.outcomes.count("ticket_metric", "recorded", "Opened Ticket", amount=5)
    client = receiver.client

    everything = client.get("/ops", headers=BEARER).text
    assert 'data-testid="brands"' in everything
    assert sorted(listed(everything)) == sorted([mine, theirs])
    assert re.findall(r'data-testid="job-brand">(\w+)<', everything).count("shop2") == 1
    assert "Opened Ticket</code> 5" in everything                    # all: added up

    shop2 = client.get("/ops?brand=shop2", headers=BEARER).text
    assert listed(shop2) == [theirs]
    assert 'data-testid="brand-selected">shop2<' in shop2
    assert "Opened Ticket</code> 5" in shop2
    default = client.get("/ops?brand=default", headers=BEARER).text
    assert listed(default) == [mine] and "Opened Ticket</code> 0" in default
    assert sorted(listed(client.get("/ops?brand=nope", headers=BEARER).text)) == sorted(
        [mine, theirs])                                             # unknown: all


def test_replay_and_purge_all_of_one_brand_leave_the_others_jobs(
        make_receiver: Callable[..., Receiver], r: redis.Redis, tmp_path: Path) -> None:
    receiver = two_brands(make_receiver, tmp_path)
    mine = fail_text(receiver, r, "01JOPSBRANDC", "default")
    theirs = fail_text(receiver, r, "01JOPSBRANDD", "shop2")
    client = receiver.client
    page = client.get("/ops?brand=shop2", headers=BEARER).text
    assert '<input type="hidden" name="brand" value="shop2">' in page

    done = client.post("/ops/replay", data={"csrf": csrf_of(page), "brand": "shop2"},
                       headers=BEARER)
    assert done.status_code == 303
    assert [t.args for t in queued(r, KLAVIYO_QUEUE)] == [[theirs]]
    assert receiver.store.events.load_event(mine)["state"] == "failed"

    client.post("/ops/purge", data={"csrf": csrf_of(page), "brand": "shop2"}, headers=BEARER)
    assert set(receiver.store.outcomes.failed()) == {mine}


def test_a_brands_refused_metric_is_replayed_from_the_page_into_its_brands_buffer(
        make_receiver: Callable[..., Receiver], r: redis.Redis, tmp_path: Path) -> None:
    receiver = two_brands(make_receiver, tmp_path)
    store = receiver.store
    with scope("shop2"):          # what shop2's metric flush leaves when Klaviyo refuses one
        store.metric_buffer.set_aside("metric:u1", '{"metric": "Opened Ticket", '
                                      '"ticket_id": 9, "unique_id": "u1"}')
        store.outcomes.record_failure("metric:u1", "bridge.flush_metrics",
                                      Permanent("klaviyo", "refused", 400), 1, time.time())
    page = receiver.client.get("/ops?brand=shop2", headers=BEARER).text
    assert listed(page) == ["metric:u1"]
    receiver.client.post("/ops/replay", data={"csrf": csrf_of(page), "ref": "metric:u1"},
                         headers=BEARER)
    assert store.metric_buffer.waiting() == 0
    with scope("shop2"):
        assert store.metric_buffer.waiting() == 1


def test_with_one_brand_the_page_has_no_brand_selector_or_column(
        make_receiver: Callable[..., Receiver], r: redis.Redis) -> None:
    receiver = make_receiver(OPS_TOKEN=TOKEN)
    fail_text(receiver, r, "01JOPSONE", "default")
    page = receiver.client.get("/ops?brand=default", headers=BEARER).text
    assert 'data-testid="brands"' not in page and 'data-testid="job-brand"' not in page
    assert "<th>Brand</th>" not in page and ", brand " not in page


def test_the_setup_check_asks_every_brands_klaviyo_account(
        make_receiver: Callable[..., Receiver], tmp_path: Path) -> None:
    page = two_brands(make_receiver, tmp_path).client.get("/ops", headers=BEARER).text
    setup = re.search(r'data-testid="setup">(.*?)</table>', page, re.S).group(1)
    names = re.findall(r"<tr><td>([^<]+)</td>", setup)
    assert "Klaviyo API key" in names and "Klaviyo API key (brand shop2)" in names
    assert "Klaviyo revision (brand shop2)" in names and names.count("Zendesk API user") == 1
