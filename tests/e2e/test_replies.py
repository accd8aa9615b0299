"""Agent replies in Zendesk -> SMS on the customer's phone, end to end (A1-A7)."""

from __future__ import annotations

import pytest

from tests.e2e.harness import (
    AGENT_DANA,
    ALICE,
    BOB,
    DANA,
    LONG_CODE,
    PROFILE,
    TOLL_FREE,
    Bridge,
    wait_for,
)

pytestmark = pytest.mark.e2e


def open_ticket(bridge: Bridge, phone: str, text: str = "hi", to: str = TOLL_FREE) -> int:
    bridge.text(phone, text, to=to)
    wait_for(lambda: bridge.tickets_of(phone, to), what="the ticket")
    bridge.settle()
    return bridge.tickets_of(phone, to)[0]["id"]


def notes(bridge: Bridge, ticket_id: int) -> list[str]:
    return [c["body"] for c in bridge.comments(ticket_id) if not c["public"]]


def test_a_public_agent_reply_reaches_the_phone_once_from_the_texted_number(
        bridge: Bridge) -> None:
    ticket = open_ticket(bridge, ALICE, "is my order shipped?", to=LONG_CODE)
    bridge.reply(ticket, "Yes, it left today.")
    wait_for(lambda: bridge.replies_to(ALICE), what="the SMS")
    bridge.settle()
    replies = bridge.replies_to(ALICE)
    assert [(m["body"], m["brand_number"]) for m in replies] == [("Yes, it left today.",
                                                                  LONG_CODE)]
    assert bridge.counters().get("agent_reply:processed:") == 1


def test_internal_notes_and_the_customers_own_texts_are_never_sent(bridge: Bridge) -> None:
    ticket = open_ticket(bridge, ALICE, "first text")
    bridge.text(ALICE, "second text")
    wait_for(lambda: len(bridge.comments(ticket)) == 2, what="the second text")
    bridge.reply(ticket, "internal: check the warehouse", public=False)
    bridge.settle()
    counters = bridge.counters()
    assert bridge.sms_to(ALICE) == []
    assert counters.get("agent_reply:dropped:internal_note") == 1
    echo_guarded = (counters.get("agent_reply:dropped:own_comment", 0)
                    + counters.get("agent_reply:dropped:customer_comment", 0))
    assert echo_guarded == 2


def test_html_is_sent_as_plain_text_with_paragraphs(bridge: Bridge) -> None:
    ticket = open_ticket(bridge, BOB)
    bridge.reply(ticket, "Hi & welcome Second",
                 html_body="<p>Hi &amp; <b>welcome</b></p><p>Second</p>")
    wait_for(lambda: bridge.replies_to(BOB), what="the SMS")
    assert bridge.replies_to(BOB)[0]["body"] == "Hi & welcome\n\nSecond"


def test_an_agent_texting_from_their_own_phone_gets_a_note_not_an_sms(bridge: Bridge) -> None:
    """A3: Dana's profile email is agent Dana's email; her texts arrive as staff comments."""
    ticket = open_ticket(bridge, DANA, "testing from my phone")
    bridge.reply(ticket, "reply to myself", author_id=AGENT_DANA)
    wait_for(lambda: any("A3" in n for n in notes(bridge, ticket)), what="the A3 note")
    bridge.settle()
    assert bridge.sms_to(DANA) == []
    assert bridge.counters().get("agent_reply:dropped:own_comment", 0) >= 1


def test_a_customer_who_opted_out_gets_no_sms_and_the_agent_a_note(bridge: Bridge) -> None:
    ticket = open_ticket(bridge, ALICE)
    bridge.set_consent(PROFILE["alice"], "UNSUBSCRIBED", "UNSUBSCRIBED")
    bridge.reply(ticket, "are you still there?")
    wait_for(lambda: any("A4" in n for n in notes(bridge, ticket)), what="the A4 note")
    bridge.settle()
    assert bridge.sms_to(ALICE) == []


def test_attachments_are_not_sent_but_the_text_is_and_a_note_says_so(bridge: Bridge) -> None:
    ticket = open_ticket(bridge, ALICE)
    bridge.reply(ticket, "Here is your invoice.",
                 attachments=[{"file_name": "invoice.pdf",
                               "content_url": "https://example.com/invoice.pdf"}])
    wait_for(lambda: bridge.replies_to(ALICE), what="the SMS")
    wait_for(lambda: any("attachment" in n for n in notes(bridge, ticket)), what="the note")
    assert [m["body"] for m in bridge.replies_to(ALICE)] == ["Here is your invoice."]


def test_the_same_webhook_three_times_sends_one_sms(bridge: Bridge) -> None:
    ticket = open_ticket(bridge, ALICE)
    bridge.reply(ticket, "only once")
    wait_for(lambda: bridge.replies_to(ALICE), what="the SMS")
    bridge.settle()
    delivery = next(d for d in bridge.deliveries("zendesk")
                    if "comment_added" in d["body"] and "only once" in d["body"])
    bridge.redeliver(delivery["id"])
    bridge.redeliver(delivery["id"])
    bridge.settle()
    assert len(bridge.replies_to(ALICE)) == 1
    assert sum(1 for d in bridge.deliveries("zendesk") if "only once" in d["body"]
               and "comment_added" in d["body"] and d["status"] == "delivered") == 3


def test_a_campaign_sms_becomes_a_note_on_the_open_ticket_but_not_a_closed_one(
        bridge: Bridge) -> None:
    ticket = open_ticket(bridge, ALICE)
    bridge.campaign(ALICE, "20% off everything today", "Black Friday")
    wait_for(lambda: notes(bridge, ticket), what="the campaign note")
    assert notes(bridge, ticket) == [
        "Klaviyo campaign 'Black Friday' sent: 20% off everything today"]
    bridge.set_status(ticket, "closed")
    bridge.settle()
    bridge.campaign(ALICE, "last chance", "Black Friday")
    wait_for(lambda: bridge.counters().get("received_sms:dropped:receipt_without_ticket"),
             what="the campaign to be skipped (E6: by the receiver, no task)")
    assert len(notes(bridge, ticket)) == 1
    assert len(bridge.tickets()) == 1


def test_the_bridges_own_reply_echoed_back_makes_no_note(bridge: Bridge) -> None:
    ticket = open_ticket(bridge, ALICE)
    bridge.reply(ticket, "We refunded you.")
    wait_for(lambda: bridge.replies_to(ALICE), what="the SMS")
    wait_for(lambda: bridge.counters().get("received_sms:dropped:conversation_reply"),
             what="the echo to be recognised")
    bridge.settle()
    assert notes(bridge, ticket) == []
    assert len(bridge.tickets()) == 1
