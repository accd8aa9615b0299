"""The /ops page and /metrics on the receiver app, against a real Redis: who gets in, what the
page shows, and replay/purge through its forms (CSRF-checked, post/redirect/get)."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable

import redis

from tests.integration.conftest import Receiver
from tests.integration.support import (
    CUSTOMER,
    KLAVIYO_QUEUE,
    klaviyo_body,
    klaviyo_event,
    klaviyo_headers,
    queued,
)
from tests.support import exposition

TOKEN = "it-ops-token-5d1c8e2a9b"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def set_aside(receiver: Receiver, r: redis.Redis, event_id: str) -> str:
    """A text the receiver accepted and a worker then gave up on (as the Runner leaves it)."""
    body = klaviyo_body([klaviyo_event(event_id)])
    assert receiver.client.post("/webhooks/klaviyo", data=body,
                                headers=klaviyo_headers(body)).status_code == 202
    ref = f"klaviyo:{event_id}"
    store = receiver.store
    store.events.update_event(ref, state="failed", attempts=4)
    store.outcomes.record_failure(ref, "bridge.inbound_sms",
                         RuntimeError(f"zendesk: 500 while texting {CUSTOMER}"), 4, time.time())
    for key in r.scan_iter(match="zkb:convq:*"):
        r.delete(key)
    r.delete(KLAVIYO_QUEUE)
    return ref


def test_without_ops_token_the_page_is_off_and_says_how_to_turn_it_on(
        receiver: Receiver) -> None:
    resp = receiver.client.get("/ops", headers=BEARER)
    assert resp.status_code == 503
    assert "set OPS_TOKEN" in resp.text
    assert receiver.client.post("/ops/replay", headers=BEARER).status_code == 503
    assert receiver.client.get("/metrics").status_code == 200     # metrics stay open by default


def test_the_page_asks_a_browser_for_basic_auth_and_refuses_a_token_in_the_url(
        make_receiver: Callable[..., Receiver]) -> None:
    client = make_receiver(OPS_TOKEN=TOKEN).client
    for headers, path in (({}, "/ops"), ({}, f"/ops?token={TOKEN}"),
                          (basic("admin", TOKEN), "/ops"), (basic("ops", "nope"), "/ops"),
                          ({"Authorization": f"Bearer {TOKEN}x"}, "/ops"),
                          ({}, "/ops/replay"), ({}, "/ops/purge")):
        method = client.post if path.startswith("/ops/") else client.get
        resp = method(path, headers=headers)
        assert resp.status_code == 401, (headers, path)
        assert resp.headers["WWW-Authenticate"].startswith("Basic realm=")
    page = client.get("/ops", headers=basic("ops", TOKEN))
    assert page.status_code == 200
    for section in ("Setup", "Queues and workers", "Outcomes", "Recent conversations",
                    "Failed jobs"):
        assert section in page.text
    assert client.get("/ops", headers=BEARER).status_code == 200


def test_metrics_can_be_made_to_require_the_ops_token(
        make_receiver: Callable[..., Receiver]) -> None:
    client = make_receiver(OPS_TOKEN=TOKEN, METRICS_REQUIRE_AUTH="true").client
    assert client.get("/metrics").status_code == 401
    resp = client.get("/metrics", headers=BEARER)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert "zkb_queue_depth" in resp.text


def test_a_failed_job_is_listed_masked_and_replayed_from_the_page(
        make_receiver: Callable[..., Receiver], r: redis.Redis) -> None:
    receiver = make_receiver(OPS_TOKEN=TOKEN)
    ref = set_aside(receiver, r, "01JOPSREPLAY1")
    client = receiver.client

    page = client.get("/ops", headers=BEARER).text
    assert ref in page and "bridge.inbound_sms" in page and "RuntimeError" in page
    assert CUSTOMER not in page and "0101" in page           # the message is masked

    forged = client.post("/ops/replay", data={"ref": ref, "csrf": "1.abc"}, headers=BEARER)
    assert forged.status_code == 403
    rotated = make_receiver(OPS_TOKEN=TOKEN + "-rotated")   # a form from before a rotation
    assert rotated.client.post("/ops/replay", data={"ref": ref, "csrf": csrf_of(page)},
                               headers={"Authorization": f"Bearer {TOKEN}-rotated"},
                               ).status_code == 403
    assert queued(r, KLAVIYO_QUEUE) == []

    done = client.post("/ops/replay", data={"ref": ref, "csrf": csrf_of(page)}, headers=BEARER)
    assert done.status_code == 303
    assert [(t.task, t.args) for t in queued(r, KLAVIYO_QUEUE)] == [
        ("bridge.inbound_sms", [ref])]
    after = client.get(done.headers["Location"], headers=BEARER).text
    assert 'data-testid="notice"' in after and f"{ref}: replayed" in after
    # Shown once per redirect id; a forged id shows nothing.
    assert 'data-testid="notice"' not in client.get("/ops?notice=../../x", headers=BEARER).text


def test_purge_forgets_one_failed_job_or_all(make_receiver: Callable[..., Receiver],
                                             r: redis.Redis) -> None:
    receiver = make_receiver(OPS_TOKEN=TOKEN)
    first = set_aside(receiver, r, "01JOPSPURGE1")
    second = set_aside(receiver, r, "01JOPSPURGE2")
    client = receiver.client
    csrf = csrf_of(client.get("/ops", headers=BEARER).text)

    resp = client.post("/ops/purge", data={"ref": first, "csrf": csrf}, headers=BEARER)
    assert resp.status_code == 303
    assert set(receiver.store.outcomes.failed()) == {second}
    client.post("/ops/purge", data={"csrf": csrf}, headers=BEARER)
    assert receiver.store.outcomes.failed() == {}
    assert queued(r, KLAVIYO_QUEUE) == []                      # purging replays nothing
    page = client.get("/ops", headers=BEARER).text
    assert 'data-testid="no-failed-jobs"' in page


def test_a_delivery_over_the_size_limit_is_counted_as_rejected_too_large(
        make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver(MAX_WEBHOOK_BYTES="2048")
    body = klaviyo_body([klaviyo_event(f"01JBIG{i}") for i in range(10)])
    resp = receiver.client.post("/webhooks/klaviyo", data=body, headers=klaviyo_headers(body))
    assert resp.status_code == 413
    assert receiver.store.outcomes.counters()["klaviyo:rejected:too_large"] == 1
    rejected = 'zkb_webhook_rejected_total{brand="default",reason="too_large",source="klaviyo"}'
    assert f"{rejected} 1.0" in receiver.client.get("/metrics").text


def test_metrics_parse_strictly_and_the_page_counts_ticket_metrics_by_name(
        make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver(OPS_TOKEN=TOKEN)
    for key, n in {"ticket_metric:recorded:Opened Ticket": 3,
                   "ticket_metric:recorded:Resolved Ticket": 1,
                   "zendesk_event:processed:": 2, "zendesk_event:processed:sweep": 1}.items():
        receiver.store.outcomes.count(*key.split(":"), amount=n)
    series = exposition.parse(receiver.client.get("/metrics").text)
    default = ("brand", "default")
    recorded = "zkb_ticket_metrics_recorded_total"
    assert series[(recorded, (default, ("metric", "Opened Ticket")))] == 3
    assert series[(recorded, (default, ("metric", "Resolved Ticket")))] == 1
    assert series[("zkb_jobs_processed_total", (default, ("kind", "zendesk_event"),
                                                ("task", "bridge.zendesk_event")))] == 3
    page = receiver.client.get("/ops", headers=BEARER).text
    line = re.search(r'data-testid="ticket-metrics">(.*?)</p>', page, re.S).group(1)
    assert re.sub(r"<[^>]+>|\s+", " ", line).split() == [
        "Ticket", "metrics", "recorded", "on", "Klaviyo", "profiles:",
        "Opened", "Ticket", "3,", "Resolved", "Ticket", "1"]


def test_the_page_shows_each_lanes_depth_and_how_long_its_oldest_task_has_waited(
        make_receiver: Callable[..., Receiver], r: redis.Redis) -> None:
    """E6: a text waits in the interactive lane, a campaign receipt in the background lane."""
    receiver = make_receiver(OPS_TOKEN=TOKEN)
    r.hset(f"zkb:opensms:{CUSTOMER}", "+18005550100", "41:open")
    receipt = klaviyo_event("01JLANE2", topic="event:klaviyo.received_sms", customer="+18005550100",
                            brand=CUSTOMER)
    body = klaviyo_body([klaviyo_event("01JLANE1"), receipt])
    assert receiver.client.post("/webhooks/klaviyo", data=body,
                                headers=klaviyo_headers(body)).status_code == 202
    html = receiver.client.get("/ops", headers=BEARER).text
    for lane in ("zkb.interactive", "zkb.background"):
        row = re.search(rf"<code>{lane}</code></td><td class=\"num\">(\d+)</td>\s*"
                        rf"<td class=\"num\" data-testid=\"age-{lane}\">(\d+) s</td>", html)
        assert row and row.group(1) == "1", lane
    assert 'data-testid="age-zkb.maintenance"></td>' in html          # empty: no age


def test_the_page_shows_what_waits_for_a_bulk_job_and_for_how_long(
        make_receiver: Callable[..., Receiver]) -> None:
    """E6: texts and campaign notes staged for Zendesk bulk jobs, and the jobs in flight."""
    receiver = make_receiver(OPS_TOKEN=TOKEN)
    bulk, now = receiver.store.bulk, time.time()
    bulk.stage("klaviyo:01JBULK1", "comment", {"ticket_id": 7}, now - 30)
    bulk.stage("klaviyo:01JBULK2", "comment", {"ticket_id": 8}, now - 5)
    bulk.stage("klaviyo:01JBULK3", "note", {"ticket_id": 9}, now - 3)
    item = bulk.item("klaviyo:01JBULK3")
    bulk.open_batch("b1", "note", [item], now - 2)
    html = receiver.client.get("/ops", headers=BEARER).text

    def cell(name: str) -> str:
        found = re.search(rf'data-testid="{name}">([^<]*)</td>', html)
        assert found, name
        return found.group(1)
    def age(name: str) -> int:
        return int(cell(f"bulk-age-{name}").removesuffix(" s"))
    assert cell("bulk-comment") == "2" and 30 <= age("comment") < 120     # the oldest's wait
    assert (cell("bulk-note"), cell("bulk-age-note")) == ("0", "")      # packed: in the job
    assert cell("bulk-jobs") == "1" and 2 <= age("jobs") < 30
    assert (cell("bulk-ticket"), cell("bulk-requester")) == ("0", "0")


def test_failed_jobs_are_shown_a_hundred_a_page(make_receiver: Callable[..., Receiver],
                                               r: redis.Redis) -> None:
    receiver = make_receiver(OPS_TOKEN=TOKEN)
    for i in range(130):
        receiver.store.outcomes.record_failure(f"klaviyo:01JPAGE{i:03d}", "bridge.inbound_sms",
                                               RuntimeError("zendesk: 500"), 8, 1000.0 + i)
    first = receiver.client.get("/ops", headers=BEARER).text
    assert "Failed jobs (130)" in first and first.count('data-testid="failed-job"') == 100
    assert 'data-testid="next-page"' in first
    second = receiver.client.get("/ops?page=2", headers=BEARER).text
    assert second.count('data-testid="failed-job"') == 30 and "Page 2 of 2" in second


def test_the_page_lists_held_replies_with_what_releases_each(
        make_receiver: Callable[..., Receiver], r: redis.Redis) -> None:
    """A8/S10: a reply held for quiet hours or an opt-out request is listed with its ticket, why,
    when it is looked at again and what an agent does to send it; other parked jobs are not."""
    receiver = make_receiver(OPS_TOKEN=TOKEN)
    store, until = receiver.store, time.time() + 3600
    for ref, ticket, hold in (("zendesk:01JHELD1", 41, "quiet_hours"),
                              ("zendesk:01JHELD2", 42, "opt_out_request"),
                              ("zendesk:01JNOTHELD", 43, None)):
        r.hset(f"zkb:ev:{ref}", mapping={"queue": f"reply|{ticket}", "state": "queued",
                                            **({"hold": hold} if hold else {})})
        store.due.park(ref, until)
    store.due.park("klaviyo:01JSTAGED", until)           # a staged text: not a reply
    html = receiver.client.get("/ops", headers=BEARER).text
    table = html[html.index('data-testid="held"'):]
    table = table[:table.index("</table>")]
    assert "Agents' replies held (2)" in html
    assert re.search(r"#41</a></td>\s*<td>quiet_hours</td>.*add the tag sms_send_now", table,
                     re.S)
    assert re.search(r"#42</a></td>\s*<td>opt_out_request</td>.*remove the tag "
                     r"sms_optout_request", table, re.S)
    assert "#43" not in table
