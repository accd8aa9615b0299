"""The sandbox's Klaviyo events page in a browser: reached from the home page, it lists the
`Opened Ticket` / `Resolved Ticket` events recorded, readable (metric, ticket, status, subject),
newest first, and filters by metric."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from tests.browser_support import chromium

pytestmark = pytest.mark.browser

KLAVIYO = {"Authorization": "Klaviyo-API-Key pk_sandbox_key", "revision": "2026-07-15",
           "Content-Type": "application/vnd.api+json", "Accept": "application/vnd.api+json"}


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, create_app(SandboxConfig()), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def record(base: str, metric: str, ticket_id: int, status: str) -> None:
    body = {"data": {"type": "event", "attributes": {
        "properties": {"Ticket_id": ticket_id, "Status": status, "Subject": f"Order {ticket_id}"},
        "unique_id": f"zendesk-ticket-{ticket_id}-{metric.split()[0].lower()}",
        "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
        "profile": {"data": {"type": "profile", "attributes": {"email": "alice@example.com"}}}}}}
    r = requests.post(f"{base}/api/events", json=body, headers=KLAVIYO, timeout=10)
    assert r.status_code == 202, r.text


def test_the_events_page_lists_ticket_metrics_readably(base: str) -> None:
    record(base, "Opened Ticket", 101, "new")
    record(base, "Resolved Ticket", 101, "closed")
    with chromium() as browser:
        page: Page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/")
        page.get_by_test_id("go-events").click()
        rows = page.get_by_test_id("event-row")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("Resolved Ticket")     # newest first
        expect(rows.first).to_contain_text("Order 101")
        expect(rows.nth(1)).to_contain_text("Opened Ticket")
        page.get_by_test_id("events-metric").select_option("Opened Ticket")
        expect(rows).to_have_count(1)
        assert not errors, errors
