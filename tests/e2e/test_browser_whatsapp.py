"""S9 in the browser: a person switches the sandbox phone to WhatsApp, sends a message, sees the
ticket with its WhatsApp badge in the desk, answers it there, and sees the answer arrive in the
phone's WhatsApp thread (not the SMS one). Screenshots of the phone and the desk are saved
(to docs/screenshots/ for the README with UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser_support import chromium, save_screenshot
from tests.e2e.harness import ALICE, Bridge

pytestmark = [pytest.mark.e2e, pytest.mark.browser]



def test_s9_a_whatsapp_message_from_the_phone_becomes_a_ticket_and_its_reply_comes_back(
        bridge: Bridge) -> None:
    with chromium() as browser:
        phone = browser.new_page(viewport={"width": 1100, "height": 760})
        phone.set_default_timeout(20_000)
        phone.goto(f"{bridge.sandbox}/phone")
        phone.get_by_test_id("profile-select").select_option(label="Alice Ames")
        phone.get_by_test_id("brand-select").select_option("+18005550100")
        phone.get_by_test_id("whatsapp-toggle").check()
        phone.get_by_test_id("message-input").fill("Do you ship to Canada?")
        phone.get_by_test_id("send").click()
        expect(phone.locator("[data-testid=sms][data-channel=whatsapp]")).to_contain_text(
            "Do you ship to Canada?")

        desk = browser.new_page(viewport={"width": 1280, "height": 800})
        desk.set_default_timeout(20_000)
        desk.goto(f"{bridge.sandbox}/desk")
        row = desk.get_by_test_id("ticket-row").filter(has_text="WhatsApp from")
        expect(row).to_have_count(1)
        expect(row.get_by_test_id("channel-badge")).to_have_attribute("data-channel",
                                                                      "whatsapp")
        row.click()
        expect(desk.get_by_test_id("comments")).to_contain_text("Do you ship to Canada?")
        desk.get_by_test_id("agent-select").select_option("9001")
        desk.get_by_test_id("reply-public").check()
        desk.get_by_test_id("reply-body").fill("We do: 3-5 days, free over $50.")
        desk.get_by_test_id("reply-submit").click()
        expect(desk.get_by_test_id("comments")).to_contain_text("free over $50")

        incoming = phone.locator("[data-testid=sms][data-channel=whatsapp].in")
        expect(incoming).to_contain_text("We do: 3-5 days, free over $50.")
        save_screenshot(phone, "phone-whatsapp")
        save_screenshot(desk, "desk-whatsapp")

        phone.get_by_test_id("whatsapp-toggle").uncheck()       # the SMS thread: nothing
        expect(phone.get_by_test_id("thread")).to_contain_text("No texts yet.")
    bridge.settle()
    assert [m["body"] for m in bridge.sms_to(ALICE) if m.get("channel") == "whatsapp"] == [
        "We do: 3-5 days, free over $50."]
