"""The sandbox's phone and agent desk, driven in headless Chromium.

A real sandbox server runs in a thread with its webhooks pointed at a capture server in this
test. Each test clicks through a page and then checks three things agree: what the page shows,
what the admin API says, and the signed webhook the bridge would have received. Signatures are
checked with the tests' own implementation (tests/support/signing.py) of the vendors'
documented schemes, not with the sandbox's own signing code.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from tests.browser_support import chromium
from tests.support.capture import CaptureServer, Hook
from tests.support.signing import klaviyo_signature_ok, zendesk_signature_ok

pytestmark = pytest.mark.browser

ZENDESK_SECRET = "ui-test-zendesk-secret"
KLAVIYO_SECRET = "ui-test-klaviyo-secret"
ZENDESK_AUTH = ("bridge@acme-shop.test/token", "sandbox-zendesk-token")
KLAVIYO_HEADERS = {"Authorization": "Klaviyo-API-Key pk_sandbox_key", "revision": "2026-07-15",
                   "Accept": "application/vnd.api+json",
                   "Content-Type": "application/vnd.api+json"}
ALICE_ID = "01JSANDBOXALICE0000000000"
ALICE_PHONE = "+15005550101"
TOLL_FREE = "+18005550100"
LONG_CODE = "+12125550100"
BOLT_TOLL_FREE, BOLT_ALICE_ID = "+18005550200", "01JSANDBOXBOLTALICE000000"   # E7: bolt
BOLT_SECRET = "ui-test-bolt-secret"
WAIT = 10.0


def zendesk_hook(type_: str, ticket_id: int, **event: Any) -> Callable[[Hook], bool]:
    """Matches a Zendesk delivery by type, ticket and event fields ("comment.is_public"=True).

    Zendesk sends enums upper-case and asks receivers to compare them case-insensitively.
    """
    def same(got: Any, want: Any) -> bool:
        return got.lower() == want.lower() if isinstance(got, str) and isinstance(want, str) \
            else got == want

    def match(h: Hook) -> bool:
        if h.path != "/zendesk":
            return False
        b = h.json
        return (b.get("type") == f"zen:event-type:{type_}"
                and str(b.get("detail", {}).get("id")) == str(ticket_id)
                and all(same(_dig(b.get("event") or {}, k), v) for k, v in event.items()))
    return match


def _dig(d: Any, dotted: str) -> Any:
    for k in dotted.split("."):
        d = d.get(k) if isinstance(d, dict) else None
    return d


# ---- fixtures ---------------------------------------------------------------------------------

@dataclass
class Env:
    base: str
    capture: CaptureServer
    browser: Browser

    def admin(self, method: str, path: str, **kw: Any) -> Any:
        r = requests.request(method, self.base + path, timeout=10, **kw)
        assert r.ok, (method, path, r.status_code, r.text)
        return r.json() if r.content else None


@pytest.fixture(scope="module")
def env_once() -> Iterator[Env]:
    capture = CaptureServer(wait=WAIT)
    cfg = SandboxConfig(zendesk_webhook_url=f"{capture.url}/zendesk",
                        zendesk_webhook_secret=ZENDESK_SECRET,
                        klaviyo_webhook_url=f"{capture.url}/klaviyo",
                        klaviyo_webhook_secret=KLAVIYO_SECRET)
    server = make_server("127.0.0.1", 0, create_app(cfg), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with chromium() as browser:
        try:
            yield Env(f"http://127.0.0.1:{server.server_port}", capture, browser)
        finally:
            server.shutdown()
            capture.close()


@pytest.fixture
def env(env_once: Env) -> Env:
    env_once.admin("POST", "/_sandbox/reset")
    env_once.capture.clear()
    return env_once


@pytest.fixture
def page(env: Env) -> Iterator[Page]:
    context = env.browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(WAIT * 1000)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def ticket(env: Env, ticket_id: int) -> dict[str, Any]:
    data = env.admin("GET", f"/_sandbox/zendesk/tickets/{ticket_id}")
    return data.get("ticket", data)


# ---- the phone --------------------------------------------------------------------------------

def test_a_text_sent_from_the_phone_reaches_the_bridge_as_a_signed_klaviyo_webhook(
        env: Env, page: Page) -> None:
    page.goto(env.base + "/phone")
    page.get_by_test_id("profile-select").select_option(label="Alice Ames")
    page.get_by_test_id("brand-select").select_option(TOLL_FREE)
    expect(page.get_by_test_id("consent-marketing")).to_have_text("subscribed")
    text = "Hi, my order #1042 hasn't arrived <b>yet</b> & I'm worried"
    page.get_by_test_id("message-input").fill(text)
    page.get_by_test_id("send").click()

    mine = page.locator("[data-testid=sms][data-direction=to_brand]")
    expect(mine.get_by_test_id("sms-body")).to_have_text(text)  # shown as text, not markup
    expect(page.get_by_test_id("phone-status")).to_contain_text("delivery #")

    hook = env.capture.wait_match("sent_sms", lambda h: h.path == "/klaviyo")
    assert klaviyo_signature_ok(hook.headers, hook.body, KLAVIYO_SECRET)
    assert not klaviyo_signature_ok(hook.headers, hook.body + b" ", KLAVIYO_SECRET)
    (item,) = hook.json["data"]
    assert item["topic"] == "event:klaviyo.sent_sms"
    props = item["payload"]["attributes"]["event_properties"]
    assert props["Message Body"] == text
    assert props["To Number"] == TOLL_FREE
    assert props["From Number"] == ALICE_PHONE
    assert item["payload"]["relationships"]["profile"]["data"]["id"] == ALICE_ID
    expect(page.get_by_test_id("webhooks-summary")).to_contain_text("1 delivered")


def test_consent_buttons_and_campaign_sms_on_the_phone(env: Env, page: Page) -> None:
    page.goto(env.base + "/phone")
    page.get_by_test_id("profile-select").select_option(label="Alice Ames")
    page.get_by_test_id("brand-select").select_option(TOLL_FREE)

    page.get_by_test_id("opt-out").click()
    expect(page.get_by_test_id("consent-marketing")).to_have_text("unsubscribed")
    expect(page.get_by_test_id("consent-transactional")).to_have_text("unsubscribed")
    alice = _profile(env, ALICE_ID)
    assert (alice["sms_marketing"], alice["sms_transactional"]) == ("UNSUBSCRIBED",
                                                                    "UNSUBSCRIBED")
    page.get_by_test_id("opt-in").click()
    expect(page.get_by_test_id("consent-marketing")).to_have_text("subscribed")
    assert _profile(env, ALICE_ID)["sms_marketing"] == "SUBSCRIBED"

    page.get_by_test_id("campaign-body").fill("Spring sale: 20% off")
    page.get_by_test_id("campaign-send").click()
    theirs = page.locator("[data-testid=sms][data-direction=to_customer]")
    expect(theirs.get_by_test_id("sms-body")).to_have_text("Spring sale: 20% off")
    expect(theirs).to_contain_text(f"from {TOLL_FREE}")
    hook = env.capture.wait_match("received_sms", lambda h: h.path == "/klaviyo")
    assert klaviyo_signature_ok(hook.headers, hook.body, KLAVIYO_SECRET)
    (item,) = hook.json["data"]
    assert item["topic"] == "event:klaviyo.received_sms"
    assert item["payload"]["attributes"]["event_properties"]["Campaign Name"] == "Spring sale"


def _profile(env: Env, profile_id: str) -> dict[str, Any]:
    data = env.admin("GET", "/_sandbox/klaviyo/profiles")
    profiles = data if isinstance(data, list) else data.get("profiles", data.get("data"))
    return next(p for p in profiles if p["id"] == profile_id)


def test_a_conversation_reply_through_the_klaviyo_api_shows_on_the_phone(
        env: Env, page: Page) -> None:
    page.goto(env.base + "/phone")
    page.get_by_test_id("profile-select").select_option(label="Alice Ames")
    page.get_by_test_id("brand-select").select_option(LONG_CODE)
    page.get_by_test_id("message-input").fill("Is the blue one back in stock?")
    page.get_by_test_id("send").click()
    expect(page.locator("[data-testid=sms][data-direction=to_brand]")).to_have_count(1)

    r = requests.get(f"{env.base}/api/profiles/{ALICE_ID}/conversations",
                     headers=KLAVIYO_HEADERS, timeout=10)
    assert r.status_code == 200, r.text
    (conversation,) = r.json()["data"]
    reply = "Yes! Back since Monday."
    r = requests.post(f"{env.base}/api/conversation-messages", headers=KLAVIYO_HEADERS, timeout=10,
                      json={"data": {"type": "conversation-message",
                                     "attributes": {"body": reply},
                                     "relationships": {"conversation": {"data": {
                                         "type": "conversation", "id": conversation["id"]}}}}})
    assert r.status_code == 202, r.text

    theirs = page.locator("[data-testid=sms][data-direction=to_customer]")
    expect(theirs.get_by_test_id("sms-body")).to_have_text(reply)
    expect(theirs).to_contain_text(f"from {LONG_CODE}")  # the number the customer texted


def test_the_phone_texts_bolts_numbers_as_bolts_alice(env: Env, page: Page) -> None:
    """E7: the shop picker opens the phone as a customer of the second Klaviyo account (bolt):
    Alice's text to bolt's number is bolt's webhook, as bolt's Alice; bolt's reply shows."""
    env.admin("POST", "/_sandbox/config", json={
        "klaviyo2_webhook_url": f"{env.capture.url}/bolt", "klaviyo2_webhook_secret": BOLT_SECRET})
    page.goto(env.base + "/phone")
    page.get_by_test_id("account-bolt").click()
    expect(page).to_have_url(re.compile(r"/phone\?account=bolt$"))
    page.get_by_test_id("profile-select").select_option(label="Alice Ames")
    page.get_by_test_id("brand-select").select_option(BOLT_TOLL_FREE)
    expect(page.get_by_test_id("consent-marketing")).to_have_text("subscribed")
    page.get_by_test_id("message-input").fill("Is my bike ready?")
    page.get_by_test_id("send").click()
    expect(page.locator("[data-testid=sms][data-direction=to_brand]")).to_have_count(1)

    hook = env.capture.wait_match("bolt's sent_sms", lambda h: h.path == "/bolt")
    assert klaviyo_signature_ok(hook.headers, hook.body, BOLT_SECRET)
    (item,) = hook.json["data"]
    assert item["payload"]["relationships"]["profile"]["data"]["id"] == BOLT_ALICE_ID
    (conversation,) = env.admin("GET", "/_sandbox/klaviyo/conversations?account=bolt")
    r = requests.post(f"{env.base}/api/conversation-messages", timeout=10, headers={
        **KLAVIYO_HEADERS, "Authorization": "Klaviyo-API-Key pk_sandbox_bolt_key"},
        json={"data": {"type": "conversation-message", "attributes": {"body": "Ready Friday."},
                       "relationships": {"conversation": {"data": {
                           "type": "conversation", "id": conversation["id"]}}}}})
    assert r.status_code == 202, r.text
    theirs = page.locator("[data-testid=sms][data-direction=to_customer]")
    expect(theirs.get_by_test_id("sms-body")).to_have_text("Ready Friday.")
    expect(theirs).to_contain_text(f"from {BOLT_TOLL_FREE}")
    assert env.admin("GET", "/_sandbox/klaviyo/sms", params={"phone": ALICE_PHONE}) == []


# ---- the agent desk ---------------------------------------------------------------------------

def test_the_desk_creates_replies_notes_solves_and_closes_with_signed_zendesk_webhooks(
        env: Env, page: Page) -> None:
    page.goto(env.base + "/desk")
    page.get_by_test_id("new-ticket-toggle").click()
    page.get_by_test_id("new-ticket-email").fill("alice@example.com")
    page.get_by_test_id("new-ticket-subject").fill("Parcel damaged")
    page.get_by_test_id("new-ticket-body").fill("The box arrived <i>crushed</i>.")
    page.get_by_test_id("new-ticket-submit").click()
    detail = page.get_by_test_id("ticket-detail")
    expect(detail).to_be_visible()
    expect(page.get_by_test_id("ticket-subject")).to_have_text("Parcel damaged")
    ticket_id = int(page.get_by_test_id("ticket-id").inner_text().lstrip("#"))
    row = page.locator(f"[data-testid=ticket-row][data-ticket-id='{ticket_id}']")
    expect(row).to_contain_text("Parcel damaged")
    t = ticket(env, ticket_id)
    assert t["subject"] == "Parcel damaged"
    created = env.capture.wait_match("ticket.created", zendesk_hook("ticket.created", ticket_id))
    assert zendesk_signature_ok(created.headers, created.body, ZENDESK_SECRET)
    assert not zendesk_signature_ok(created.headers, created.body + b" ", ZENDESK_SECRET)

    # public reply as Ana
    page.get_by_test_id("agent-select").select_option("9001")
    page.get_by_test_id("reply-public").check()
    page.get_by_test_id("reply-body").fill("Sorry! A replacement ships today.")
    page.get_by_test_id("reply-submit").click()
    comments = page.get_by_test_id("comment")
    expect(comments.last).to_contain_text("Sorry! A replacement ships today.")
    expect(comments.last).to_have_attribute("data-public", "true")
    last = ticket(env, ticket_id)["comments"][-1]
    assert (last["body"], last["public"], last["author_id"]) == (
        "Sorry! A replacement ships today.", True, 9001)
    hook = env.capture.wait_match("public comment", zendesk_hook(
        "ticket.comment_added", ticket_id, **{"comment.is_public": True,
                                              "comment.body": "Sorry! A replacement ships today."}))
    assert zendesk_signature_ok(hook.headers, hook.body, ZENDESK_SECRET)
    assert str(hook.json["event"]["comment"]["author"]["id"]) == "9001"

    # internal note as Dana
    page.get_by_test_id("agent-select").select_option("9002")
    page.get_by_test_id("reply-internal").check()
    expect(page.get_by_test_id("reply-submit")).to_have_text("Add internal note")
    page.get_by_test_id("reply-body").fill("Courier claim filed.")
    page.get_by_test_id("reply-submit").click()
    expect(comments.last).to_contain_text("Courier claim filed.")
    expect(comments.last).to_have_attribute("data-public", "false")
    expect(comments.last.get_by_test_id("comment-kind")).to_have_text("internal note")
    last = ticket(env, ticket_id)["comments"][-1]
    assert (last["body"], last["public"], last["author_id"]) == (
        "Courier claim filed.", False, 9002)
    hook = env.capture.wait_match("internal note", zendesk_hook(
        "ticket.comment_added", ticket_id, **{"comment.is_public": False,
                                              "comment.body": "Courier claim filed."}))
    assert zendesk_signature_ok(hook.headers, hook.body, ZENDESK_SECRET)

    # solve, then close
    for button, new, old in (("solve", "solved", None), ("close", "closed", "solved")):
        page.get_by_test_id(button).click()
        expect(page.get_by_test_id("ticket-status")).to_have_text(new)
        expect(row.get_by_test_id("ticket-row-status")).to_have_text(new)
        assert ticket(env, ticket_id)["status"] == new
        want = {"current": new} | ({"previous": old} if old else {})
        hook = env.capture.wait_match(f"status {new}", zendesk_hook(
            "ticket.status_changed", ticket_id, **want))
        assert zendesk_signature_ok(hook.headers, hook.body, ZENDESK_SECRET)
    expect(page.get_by_test_id("reply-submit")).to_be_disabled()  # closed tickets are final


def test_close_silently_changes_a_ticket_without_a_webhook(env: Env, page: Page) -> None:
    r = requests.post(f"{env.base}/api/v2/tickets.json", auth=ZENDESK_AUTH, timeout=10,
                      json={"ticket": {"subject": "Made through the API",
                                       "comment": {"body": "hello"},
                                       "requester": {"email": "carla@example.com",
                                                     "name": "Carla Cruz"}}})
    assert r.status_code == 201, r.text
    ticket_id = r.json()["ticket"]["id"]
    env.capture.wait_match("ticket.created", zendesk_hook("ticket.created", ticket_id))

    page.goto(env.base + "/desk")
    row = page.locator(f"[data-testid=ticket-row][data-ticket-id='{ticket_id}']")
    expect(row).to_contain_text("Made through the API")
    expect(row).to_contain_text("Carla Cruz")
    row.click()
    expect(page.get_by_test_id("ticket-subject")).to_have_text("Made through the API")
    page.get_by_test_id("close-silently").click()
    expect(page.get_by_test_id("ticket-status")).to_have_text("closed")
    assert ticket(env, ticket_id)["status"] == "closed"

    # the admin API records every delivery as it is queued: the silent close made none
    assert not [d for d in _deliveries(env) if d["source"] == "zendesk"
                and json.loads(d["body"]).get("type", "").endswith("status_changed")]
    # and none reached the capture server before a later, loud change did
    env.admin("POST", "/_sandbox/zendesk/tickets", json={
        "requester_email": "alice@example.com", "subject": "marker", "body": "m",
        "channel": "web"})
    env.capture.wait_match("marker", lambda h: h.path == "/zendesk" and b"marker" in h.body)
    assert not [h for h in env.capture.hooks
                if h.path == "/zendesk" and h.json.get("type", "").endswith("status_changed")]


def _deliveries(env: Env) -> list[dict[str, Any]]:
    data = env.admin("GET", "/_sandbox/deliveries")
    return data if isinstance(data, list) else data.get("deliveries", [])


def test_landing_page_says_what_is_where(env: Env, page: Page) -> None:
    page.goto(env.base + "/")
    expect(page.get_by_test_id("zendesk-webhook-url")).to_contain_text(env.capture.url)
    page.get_by_test_id("go-desk").click()
    expect(page).to_have_url(re.compile(r"/desk$"))
    page.get_by_test_id("nav-phone").click()
    expect(page.get_by_test_id("thread")).to_contain_text("No texts yet.")


def test_the_desk_flags_an_opt_out_request_and_its_tag_editor_fires_tags_changed(
        env: Env, page: Page) -> None:
    """S10/A8 in the desk: a ticket tagged sms_optout_request is flagged; the tag editor and
    "Clear opt-out request" change tags with signed ticket.tags_changed webhooks (which the
    bridge reads to release held replies)."""
    created = env.admin("POST", "/_sandbox/zendesk/tickets", json={
        "requester_email": "alice@example.com", "subject": "Please stop", "body": "no more texts",
        "channel": "web", "tags": ["sms", "sms_optout_request"]})
    ticket_id = created["ticket"]["id"]
    page.goto(env.base + "/desk")
    row = page.locator(f"[data-testid=ticket-row][data-ticket-id='{ticket_id}']")
    expect(row.get_by_test_id("flag-optout")).to_have_text("Opt-out request")
    expect(row.get_by_test_id("flag-held")).to_have_count(0)      # no hold note: nothing held
    row.click()
    expect(page.get_by_test_id("optout-banner")).to_be_visible()

    page.get_by_test_id("tag-input").fill("vip")
    page.get_by_test_id("tag-add").click()
    expect(page.locator("[data-testid=tag-chip][data-tag=vip]")).to_have_count(1)
    hook = env.capture.wait_match("tag added", zendesk_hook(
        "ticket.tags_changed", ticket_id, **{"tags_added": ["vip"]}))
    assert zendesk_signature_ok(hook.headers, hook.body, ZENDESK_SECRET)
    page.locator("[data-testid=tag-chip][data-tag=vip]").get_by_test_id("tag-remove").click()
    expect(page.locator("[data-testid=tag-chip][data-tag=vip]")).to_have_count(0)
    env.capture.wait_match("tag removed", zendesk_hook(
        "ticket.tags_changed", ticket_id, **{"tags_removed": ["vip"]}))

    page.get_by_test_id("clear-optout").click()
    expect(page.get_by_test_id("optout-banner")).to_have_count(0)
    expect(row.get_by_test_id("flag-optout")).to_have_count(0)
    assert ticket(env, ticket_id)["tags"] == ["sms"]
    env.capture.wait_match("request cleared", zendesk_hook(
        "ticket.tags_changed", ticket_id, **{"tags_removed": ["sms_optout_request"]}))
