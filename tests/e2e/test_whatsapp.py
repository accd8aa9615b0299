"""S9 WhatsApp end to end, through the real processes (sandbox Klaviyo's WhatsApp webhook ->
gunicorn -> Redis -> celery worker -> sandbox Zendesk, and the agent's reply back through the
sandbox's WhatsApp conversation to the phone):

- a customer's WhatsApp message opens a ticket tagged `whatsapp` (external_id `zkb-wa:...`),
  apart from their SMS ticket with the same brand number;
- the agent's reply reaches the phone's WhatsApp thread exactly once, even when Zendesk sends
  the comment webhook twice, and never the SMS thread;
- after the conversation is aged 25 hours (the sandbox's Klaviyo then refuses free-form
  messages, as Klaviyo/Meta would [assumed]), a reply is not sent and the agent gets ONE
  internal note; when the customer writes again, the held reply goes out;
- the customer's SMS conversation is unaffected throughout.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.e2e.harness import ALICE, TOLL_FREE, Bridge, wait_for

pytestmark = pytest.mark.e2e

WA_EXTERNAL_ID = f"zkb-wa:{ALICE}:{TOLL_FREE}"
SMS_EXTERNAL_ID = f"zkb-sms:{ALICE}:{TOLL_FREE}"


def whatsapp(bridge: Bridge, body: str) -> None:
    requests.post(f"{bridge.sandbox}/_sandbox/klaviyo/whatsapp/inbound",
                  json={"from": ALICE, "to": TOLL_FREE, "body": body},
                  timeout=10).raise_for_status()


def ticket_by(bridge: Bridge, external_id: str) -> dict[str, Any] | None:
    return next((t for t in bridge.tickets() if t.get("external_id") == external_id), None)


def phone(bridge: Bridge, channel: str) -> list[str]:
    """What reached Alice's phone from the brand on `channel`, oldest first."""
    return [m["body"] for m in bridge.sms_to(ALICE) if m.get("channel", "sms") == channel]


def window_notes(bridge: Bridge, ticket_id: int) -> list[str]:
    return [c["body"] for c in bridge.comments(ticket_id)
            if not c["public"] and "24 hours" in c["body"]]


def test_s9_whatsapp_ticket_reply_once_and_the_24_hour_window(bridge: Bridge) -> None:
    bridge.text(ALICE, "A question by SMS")
    whatsapp(bridge, "Is the blue one in stock?")
    wa = wait_for(lambda: ticket_by(bridge, WA_EXTERNAL_ID), what="the WhatsApp ticket")
    sms = wait_for(lambda: ticket_by(bridge, SMS_EXTERNAL_ID), what="the SMS ticket")
    assert wa["id"] != sms["id"]
    assert "whatsapp" in wa["tags"] and "sms" not in wa["tags"]
    assert "sms" in sms["tags"] and "whatsapp" not in sms["tags"]

    bridge.reply(wa["id"], "Yes, in stock: it ships today.")
    wait_for(lambda: phone(bridge, "whatsapp"), what="the reply on the WhatsApp thread")
    bridge.settle()
    comment = next(d for d in bridge.deliveries("zendesk")
                   if "ships today" in d["body"] and "comment_added" in d["body"])
    bridge.redeliver(comment["id"])                       # Zendesk sends it again (A6)
    bridge.settle()
    assert phone(bridge, "whatsapp") == ["Yes, in stock: it ships today."]
    assert phone(bridge, "sms") == []

    requests.post(f"{bridge.sandbox}/_sandbox/klaviyo/whatsapp/age",
                  json={"phone": ALICE, "hours": 25}, timeout=10).raise_for_status()
    bridge.reply(wa["id"], "Anything else I can help with?")
    wait_for(lambda: window_notes(bridge, wa["id"]), what="the 24-hour note")
    # the note is left after Klaviyo refused the send: the phone has not changed (held, parked)
    assert phone(bridge, "whatsapp") == ["Yes, in stock: it ships today."]
    assert len(window_notes(bridge, wa["id"])) == 1

    bridge.reply(sms["id"], "About your SMS: all good.")   # the SMS conversation is unaffected
    wait_for(lambda: phone(bridge, "sms"), what="the SMS reply")

    whatsapp(bridge, "Sorry, I was away. Yes please!")      # the window opens again
    wait_for(lambda: len(phone(bridge, "whatsapp")) == 2, what="the held reply to go out")
    bridge.settle()
    assert phone(bridge, "whatsapp") == ["Yes, in stock: it ships today.",
                                         "Anything else I can help with?"]
    assert phone(bridge, "sms") == ["About your SMS: all good."]
    assert len(window_notes(bridge, wa["id"])) == 1
