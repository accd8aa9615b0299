"""Operating the running bridge (E2, E5): /metrics after real traffic, the /ops page in a real
browser (auth, a failed job, replay), and the logs of every process free of secrets and of
customers' phone numbers and emails.

The log test runs last in this file so that the lines it reads include the other tests' work
(and whatever the session's earlier files logged on the same stack).
"""

from __future__ import annotations

import json
import re

import pytest
import requests
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from prometheus_client.parser import text_string_to_metric_families

from tests.browser_support import chromium
from tests.e2e.harness import AGENT_ANA, ALICE, BOB, DANA, Bridge, open_tickets, wait_for

pytestmark = pytest.mark.e2e
TOLL_FREE = "+18005550100"


def zendesk_faults(bridge: Bridge, **values: float) -> None:
    requests.post(f"{bridge.sandbox}/_sandbox/faults", json={"api": "zendesk", **values},
                  timeout=10).raise_for_status()


def clear_faults(bridge: Bridge) -> None:
    requests.delete(f"{bridge.sandbox}/_sandbox/faults", timeout=10).raise_for_status()


def forged_delivery(bridge: Bridge, body: bytes) -> int:
    """A Klaviyo-looking delivery signed with a wrong secret (refused with 401)."""
    headers = {"Klaviyo-Timestamp": "1", "Klaviyo-Signature": "0" * 64,
               "Content-Type": "application/json"}
    return requests.post(f"{bridge.stack.web_url}/webhooks/klaviyo", data=body, headers=headers,
                         timeout=10).status_code


def scrape(bridge: Bridge) -> dict[str, list]:
    resp = requests.get(f"{bridge.stack.web_url}/metrics", timeout=10)
    assert resp.status_code == 200
    return {f.name: f.samples for f in text_string_to_metric_families(resp.text)}


def value(samples: list, name: str, **labels: str) -> float:
    return sum(s.value for s in samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def failed_refs(bridge: Bridge) -> set[str]:
    return {k.decode() for k in bridge.redis.hkeys("zkb:failed")}


# --- /metrics -------------------------------------------------------------------------------

def test_metrics_expose_webhooks_queues_jobs_upstream_calls_and_latency(bridge: Bridge) -> None:
    zendesk_faults(bridge, force_429=1, retry_after=1)     # the first Zendesk call is throttled
    tickets = open_tickets(bridge, ((ALICE, TOLL_FREE),))
    bridge.reply(tickets[(ALICE, TOLL_FREE)], "We are on it.")
    wait_for(lambda: bridge.replies_to(ALICE), what="the reply on Alice's phone")
    assert forged_delivery(bridge, b'{"data": []}') == 401
    bridge.settle()

    m = scrape(bridge)

    received = m["zkb_webhook_events_received"]
    assert value(received, "zkb_webhook_events_received_total", source="klaviyo") >= 1
    assert value(received, "zkb_webhook_events_received_total", source="zendesk") >= 1
    assert value(m["zkb_webhook_rejected"], "zkb_webhook_rejected_total", source="klaviyo",
                 reason="stale_timestamp") == 1
    assert {s.labels["queue"] for s in m["zkb_queue_depth"]} == {
        "zkb.interactive", "zkb.background", "zkb.maintenance", "zkb.klaviyo", "zkb.zendesk"}
    assert "zkb_queue_unacked" in m and "zkb_failed_jobs" in m
    jobs = m["zkb_jobs_processed"]
    assert value(jobs, "zkb_jobs_processed_total", task="bridge.inbound_sms",
                 kind="inbound_sms") == 1
    assert value(jobs, "zkb_jobs_processed_total", task="bridge.zendesk_event",
                 kind="agent_reply") == 1
    assert value(m["zkb_jobs_retried"], "zkb_jobs_retried_total", reason="rate_limited") >= 1
    calls = m["zkb_upstream_calls"]
    assert value(calls, "zkb_upstream_calls_total", api="zendesk", endpoint="POST tickets",
                 status="2xx") == 1
    assert value(calls, "zkb_upstream_calls_total", api="klaviyo",
                 endpoint="POST conversation-messages", status="2xx") == 1
    assert value(m["zkb_upstream_rate_limited"], "zkb_upstream_rate_limited_total",
                 api="zendesk") == 1
    latency = m["zkb_event_latency_seconds"]
    assert value(latency, "zkb_event_latency_seconds_count", kind="inbound_sms") == 1
    assert value(latency, "zkb_event_latency_seconds_bucket", kind="inbound_sms",
                 le="+Inf") == 1
    assert 0 < value(latency, "zkb_event_latency_seconds_sum", kind="inbound_sms") < 60


# --- /ops in a browser ----------------------------------------------------------------------

@pytest.mark.browser
def test_the_ops_page_needs_auth_shows_a_failed_job_and_replays_it(bridge: Bridge) -> None:
    ops = f"{bridge.stack.web_url}/ops"
    zendesk_faults(bridge, error_rate=1.0)
    try:
        ref = "klaviyo:" + bridge.text(ALICE, "My parcel never came")["event_id"]
        wait_for(lambda: ref in failed_refs(bridge), timeout=90, what="the text set aside")
    finally:
        clear_faults(bridge)
    bridge.settle()
    assert bridge.tickets_of(ALICE) == []

    with chromium() as browser:
        anonymous = browser.new_context().new_page()
        with pytest.raises(PlaywrightError, match="ERR_INVALID_AUTH_CREDENTIALS"):
            anonymous.goto(ops)          # challenged for basic auth, and no credentials to give
        answer = anonymous.request.get(ops)
        assert answer.status == 401
        assert answer.headers["www-authenticate"].startswith("Basic")
        assert "My parcel" not in answer.text()

        page = browser.new_context(http_credentials={
            "username": "ops", "password": bridge.stack.ops_token}).new_page()
        page.set_default_timeout(20_000)
        page.goto(ops)
        row = page.locator(f'[data-testid="failed-job"][data-ref="{ref}"]')
        expect(row).to_contain_text("bridge.inbound_sms")
        expect(row).to_contain_text("Retryable")
        expect(row).to_contain_text("answered 50")
        expect(page.get_by_test_id("workers")).to_contain_text("celery@")

        asked: list[str] = []
        page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
        row.get_by_test_id("replay").click()
        expect(page.get_by_test_id("notice")).to_contain_text(f"{ref}: replayed")
        assert asked and asked[0].startswith("Replay this failed job?")   # confirmed first
        wait_for(lambda: bridge.tickets_of(ALICE), what="the replayed text's ticket")
        bridge.settle()
        page.reload()
        expect(page.locator(f'[data-ref="{ref}"]')).to_have_count(0)
        expect(page.get_by_test_id("no-failed-jobs")).to_be_visible()
        expect(page.get_by_test_id("recent")).to_contain_text("+1••••••0101")

    [ticket] = bridge.tickets_of(ALICE)
    assert [c["body"] for c in bridge.comments(ticket["id"])] == ["My parcel never came"]


# --- logs (keep last) -----------------------------------------------------------------------

def test_no_log_line_of_any_process_carries_a_secret_or_a_customers_phone_or_email(
        bridge: Bridge) -> None:
    env = bridge.stack.env()
    tickets = open_tickets(bridge, ((ALICE, TOLL_FREE), (BOB, TOLL_FREE), (DANA, TOLL_FREE)))
    bridge.text("+15005550103", "STOP texting carla@example.com")   # Carla: not consented
    bridge.text("+447700900105", "Emil here, reach me at emil@example.co.uk")
    bridge.reply(tickets[(ALICE, TOLL_FREE)], "Hi, which order is it? alice@example.com?")
    bridge.reply(tickets[(DANA, TOLL_FREE)], "Dana, is this you?", author_id=AGENT_ANA)
    zendesk_faults(bridge, error_rate=1.0)                # retries log their errors
    try:
        ref = "klaviyo:" + bridge.text(BOB, "Bob again, +15005550102, any news?")["event_id"]
        wait_for(lambda: bridge.redis.hget(f"zkb:ev:{ref}", "attempts"), what="a retry")
    finally:
        clear_faults(bridge)
    body = json.dumps({"data": [{"phone": ALICE, "email": "alice@example.com"}]}).encode()
    assert forged_delivery(bridge, body) == 401
    token = env["OPS_TOKEN"]
    assert requests.get(f"{bridge.stack.web_url}/ops", auth=("ops", token),
                        timeout=30).status_code == 200
    assert requests.get(f"{bridge.stack.web_url}/ops", auth=("ops", "wrong-" + token),
                        timeout=10).status_code == 401
    bridge.settle()

    seed = requests.get(f"{bridge.sandbox}/_sandbox/seed", timeout=10).json()
    personal = {p["phone"] for p in seed["profiles"]} | {p["email"] for p in seed["profiles"]
                                                          if p["email"]}
    personal |= {p.lstrip("+") for p in personal if p.startswith("+")}
    secrets = {env[name] for name in ("ZENDESK_OAUTH_CLIENT_SECRET", "KLAVIYO_API_KEY",
                                      "ZENDESK_WEBHOOK_SECRET", "KLAVIYO_WEBHOOK_SECRET",
                                      "OPS_TOKEN")}
    secrets.add(env["FLOWER_BASIC_AUTH"].partition(":")[2])
    tokens = oauth_tokens(bridge)            # the bearer tokens the sandbox issued
    assert tokens, "the workers used a Zendesk OAuth token"
    secrets |= tokens
    logs = sorted(bridge.stack.workdir.glob("*.log"))
    assert {p.name for p in logs} >= {"web.log", "worker.log", "beat.log", "sandbox.log"}
    found = []
    for path in logs:
        text = path.read_text(errors="replace")
        for needle in sorted(secrets | personal):
            for line in text.splitlines():
                if needle in line:
                    found.append(f"{path.name}: {needle!r} in {line[:200]}")
    assert not found, "\n".join(found)
    # Celery's task lines name event refs only: nothing but ids in a task's log line.
    for line in bridge.stack.log("worker").splitlines():
        assert not re.search(r"Task bridge\.\w+\[[^\]]+\] received.*\+\d", line), line


def oauth_tokens(bridge: Bridge) -> set[str]:
    """The Zendesk OAuth access tokens the workers share through Redis."""
    return {json.loads(bridge.redis.get(key))["token"]
            for key in bridge.redis.scan_iter(match="zkb:oauth:zendesk:*")
            if not key.endswith(b":lock")}
