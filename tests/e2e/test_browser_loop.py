"""A person texts from the sandbox phone and sees the ticket appear in the agent desk, with the
whole system running (headless Chromium against the README's stack)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser_support import chromium
from tests.e2e.harness import Bridge

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def text_from_the_phone(browser: Browser, sandbox: str, brand: str, body: str) -> Page:
    """Alice texts `body` to `brand` from the sandbox phone; returns the phone's page."""
    page = browser.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{sandbox}/phone")
    page.get_by_test_id("profile-select").select_option(label="Alice Ames")
    page.get_by_test_id("brand-select").select_option(brand)
    page.get_by_test_id("message-input").fill(body)
    page.get_by_test_id("send").click()
    return page


def test_a_text_from_the_phone_shows_up_as_a_ticket_in_the_desk(bridge: Bridge) -> None:
    with chromium() as browser:
        page = text_from_the_phone(browser, bridge.sandbox, "+18005550100",
                                   "My parcel never arrived")
        expect(page.get_by_test_id("thread")).to_contain_text("My parcel never arrived")

        page.goto(f"{bridge.sandbox}/desk")
        row = page.get_by_test_id("ticket-row").filter(has_text="SMS from")
        expect(row).to_have_count(1)
        row.click()
        expect(page.get_by_test_id("comments")).to_contain_text("My parcel never arrived")
        expect(page.get_by_test_id("ticket-detail")).to_contain_text("sms")
    bridge.settle()
    assert [t["subject"] for t in bridge.tickets()] == ["SMS from +1••••••0101"]


def test_the_whole_loop_text_reply_and_the_reply_on_the_phone(bridge: Bridge) -> None:
    """Text from the phone, answer in the desk as Ana, see the answer arrive on the phone."""
    with chromium() as browser:
        phone = text_from_the_phone(browser, bridge.sandbox, "+12125550100",
                                    "Can I change my delivery address?")

        desk = browser.new_page()
        desk.set_default_timeout(20_000)
        desk.goto(f"{bridge.sandbox}/desk")
        desk.get_by_test_id("ticket-row").filter(has_text="SMS from").click()
        expect(desk.get_by_test_id("comments")).to_contain_text("change my delivery address")
        desk.get_by_test_id("agent-select").select_option("9001")
        desk.get_by_test_id("reply-public").check()
        desk.get_by_test_id("reply-body").fill("Sure, reply with the new address.")
        desk.get_by_test_id("reply-submit").click()

        incoming = phone.locator("[data-testid=sms].in")
        expect(incoming).to_contain_text("Sure, reply with the new address.")
        expect(incoming).to_contain_text("+12125550100")
    bridge.settle()
    assert [m["body"] for m in bridge.replies_to("+15005550101")] == [
        "Sure, reply with the new address."]
