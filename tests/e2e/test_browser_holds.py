"""Held replies and opt-out requests as an agent sees them in the sandbox desk (rules S10, A8),
driven in headless Chromium against the real processes (sandbox, receiver, worker, beat).

- S10: a customer texts "please don't text me again" from the phone: the desk flags the ticket
  "Opt-out request"; the agent's reply is held (the bridge's note is flagged "reply held");
  "Clear opt-out request" removes the tag, and the reply arrives on the phone.
- A8: on a stack whose quiet hours cover now, the agent's reply is flagged "Reply held" with the
  time it goes out; "Send held replies now" adds `sms_send_now`, and it arrives on the phone.

The desk knows of a hold only from what an agent in Zendesk sees (the tags and the bridge's
notes: sandbox/zendesk/desk_flags.py). Each test takes screenshots for the README (written to
docs/screenshots/ with UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Browser, Page, expect

from bridge.domain.opt_out import OPT_OUT_REQUEST_TAG
from bridge.domain.reply_holds import SEND_NOW_TAG
from scripts.devstack import Stack
from tests.browser_support import chromium, save_screenshot
from tests.e2e.conftest import E2E_ENV
from tests.e2e.harness import ALICE, Bridge, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def quiet_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """A stack of its own whose quiet hours (UTC: the sandbox's +1 500 numbers name no single
    zone) began an hour ago and end in two hours."""
    now = time.time()
    start = datetime.fromtimestamp(now - 3600, UTC)
    end = datetime.fromtimestamp(now + 2 * 3600, UTC)
    s = Stack(workdir=tmp_path_factory.mktemp("quiet-desk"), extra_env={
        **E2E_ENV, "QUIET_HOURS": f"{start:%H:%M}-{end:%H:%M}", "QUIET_HOURS_TZ": "UTC"})
    try:
        s.start()
        yield Bridge(s)
    finally:
        s.stop()


def new_page(browser: Browser, url: str) -> Page:
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(20_000)
    page.goto(url)
    return page


def text_from_the_phone(browser: Browser, sandbox: str, body: str) -> Page:
    """Alice texts `body` to the toll-free number from the sandbox phone; returns the phone."""
    phone = new_page(browser, f"{sandbox}/phone")
    phone.get_by_test_id("profile-select").select_option(label="Alice Ames")
    phone.get_by_test_id("brand-select").select_option("+18005550100")
    phone.get_by_test_id("message-input").fill(body)
    phone.get_by_test_id("send").click()
    expect(phone.get_by_test_id("thread")).to_contain_text(body)
    return phone


def reply_in_the_desk(browser: Browser, sandbox: str, text: str, body: str) -> Page:
    """Ana opens the SMS ticket (once its text `text` is in) and sends a public reply."""
    desk = new_page(browser, f"{sandbox}/desk")
    desk.get_by_test_id("ticket-row").filter(has_text="SMS from").click()
    expect(desk.get_by_test_id("comments")).to_contain_text(text)
    desk.get_by_test_id("agent-select").select_option("9001")
    desk.get_by_test_id("reply-public").check()
    desk.get_by_test_id("reply-body").fill(body)
    desk.get_by_test_id("reply-submit").click()
    expect(desk.get_by_test_id("comments")).to_contain_text(body)
    return desk


def shot(page: Page, name: str) -> None:
    save_screenshot(page, name)


def replies(bridge: Bridge) -> list[str]:
    return [m["body"] for m in bridge.replies_to(ALICE)]


def test_s10_the_desk_flags_an_opt_out_request_and_clearing_it_sends_the_held_reply(
        bridge: Bridge) -> None:
    plea = "Got the parcel, thanks. Please don't text me again."
    answer = "Noted, sorry for the trouble. One last thing: your refund is on its way."
    with chromium() as browser:
        phone = text_from_the_phone(browser, bridge.sandbox, plea)
        wait_for(lambda: bridge.tickets_of(ALICE)
                 and OPT_OUT_REQUEST_TAG in bridge.tickets_of(ALICE)[0]["tags"],
                 what="the S10 tag")
        desk = reply_in_the_desk(browser, bridge.sandbox, plea, answer)
        row = desk.get_by_test_id("ticket-row").filter(has_text="SMS from")
        expect(row.get_by_test_id("flag-optout")).to_have_text("Opt-out request")
        expect(desk.get_by_test_id("optout-banner")).to_contain_text("asked in words to stop")
        held = desk.get_by_test_id("hold-banner")
        expect(held).to_have_attribute("data-reason", "opt_out_request", timeout=30_000)
        expect(row.get_by_test_id("flag-held")).to_have_text("Reply held")
        note = desk.get_by_test_id("comment").filter(has=desk.get_by_test_id("comment-held"))
        expect(note).to_contain_text("This reply is held, not sent")
        assert replies(bridge) == []
        shot(desk, "desk-opt-out-request")

        desk.get_by_test_id("clear-optout").click()
        expect(phone.locator("[data-testid=sms].in")).to_contain_text(answer, timeout=30_000)
        expect(desk.get_by_test_id("optout-banner")).to_have_count(0)
        expect(desk.get_by_test_id("hold-banner")).to_have_count(0)
        expect(row.get_by_test_id("flag-optout")).to_have_count(0)
        expect(desk.locator(f"[data-testid=tag-chip][data-tag={OPT_OUT_REQUEST_TAG}]")
               ).to_have_count(0)
        shot(phone, "phone-released-reply")
    bridge.settle()
    assert replies(bridge) == [answer]


def test_a8_the_desk_shows_a_reply_held_for_quiet_hours_and_send_now_sends_it(
        quiet_bridge: Bridge) -> None:
    bridge = quiet_bridge
    question = "Is my order shipped?"
    answer = "It shipped this morning, tracking 1Z999."
    with chromium() as browser:
        phone = text_from_the_phone(browser, bridge.sandbox, question)
        wait_for(lambda: bridge.tickets_of(ALICE), what="the ticket")
        wait_for(lambda: bridge.redis.get(f"zkb:ticketconv:{bridge.tickets_of(ALICE)[0]['id']}"),
                 what="the conversation")
        desk = reply_in_the_desk(browser, bridge.sandbox, question, answer)
        held = desk.get_by_test_id("hold-banner")
        expect(held).to_have_attribute("data-reason", "quiet_hours", timeout=30_000)
        expect(held).to_contain_text("(UTC)")
        row = desk.get_by_test_id("ticket-row").filter(has_text="SMS from")
        expect(row.get_by_test_id("flag-held")).to_have_text("Reply held")
        expect(row.get_by_test_id("flag-optout")).to_have_count(0)
        note = desk.get_by_test_id("comment").filter(has=desk.get_by_test_id("comment-held"))
        expect(note).to_contain_text("written during quiet hours")
        assert replies(bridge) == []
        shot(desk, "desk-quiet-hours-held")

        desk.get_by_test_id("send-now").click()
        expect(phone.locator("[data-testid=sms].in")).to_contain_text(answer, timeout=30_000)
        expect(held).to_have_count(0)
        expect(row.get_by_test_id("flag-held")).to_have_count(0)
        expect(desk.locator(f"[data-testid=tag-chip][data-tag={SEND_NOW_TAG}]")).to_have_count(1)
    bridge.settle()
    assert replies(bridge) == [answer]
