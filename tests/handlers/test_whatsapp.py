"""S9 WhatsApp through the handlers, with fake Zendesk and Klaviyo and the real stores on
fakeredis: a WhatsApp message makes its own ticket tagged `whatsapp` (apart from the customer's
SMS conversation with the same number), consent comes from WhatsApp's subscriptions, the reply
goes out in the WhatsApp conversation once, and outside the 24-hour window it is held with one
note (woken when the customer writes again; sent by the template flow when asked)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from bridge.domain.model import Profile, conversation_brand, conversation_external_id
from bridge.domain.sms_rules import Policy
from bridge.domain.whatsapp import SEND_TEMPLATE_TAG, WINDOW_SECONDS
from bridge.errors import Deferred, Permanent
from bridge.handlers.agent_reply import ReplyDeps, runner
from bridge.handlers.reply_hold import HoldPolicy, release_runner
from bridge.handlers.sms_inbound import InboundDeps, handle_inbound
from tests import fakes
from tests.factories import (
    ALICE,
    TOLL_FREE,
    comment_added,
    profile,
    receive,
    sent_sms,
    sent_whatsapp,
    tags_changed,
)
from tests.fakes import Clock, FakeKlaviyo, FakeZendesk
from tests.handlers.test_agent_reply import MESSAGES

WA = conversation_brand("whatsapp", TOLL_FREE)
WA_CONVERSATION, SMS_CONVERSATION = "conv-wa", "conv-sms"
TEMPLATE = "Zendesk WhatsApp Template Reply"


@dataclass
class Shop:
    """Alice (SMS and WhatsApp consent) writes to the brand's number; Bo answers."""

    customer: Profile = field(default_factory=lambda: profile(ALICE, whatsapp="conversational"))
    template_metric: str | None = None

    def __post_init__(self) -> None:
        self.clock = Clock()
        self.store = fakes.store()
        self.zendesk = FakeZendesk(self.clock)
        self.klaviyo = FakeKlaviyo(self.customer)
        self.klaviyo.conversations[self.customer.id] = SMS_CONVERSATION
        self.klaviyo.whatsapp_conversations[self.customer.id] = WA_CONVERSATION
        self.agent = self.zendesk.add_user("Bo", email="bo@shop.test", role="agent")
        self.inbound = InboundDeps(store=self.store, zendesk=self.zendesk, klaviyo=self.klaviyo,
                                   policy=Policy(), clock=self.clock, sleep=self.clock.sleep)
        self.replies = ReplyDeps(store=self.store, zendesk=self.zendesk, klaviyo=self.klaviyo,
                                 quota=self.store.quota, budget=MESSAGES,
                                 holds=HoldPolicy(template_metric=self.template_metric),
                                 clock=self.clock, sleep=self.clock.sleep)

    def writes(self, body: str = "Is the blue one in stock?", *, sms: bool = False) -> str:
        at = datetime.fromtimestamp(self.clock(), UTC)
        item = sent_sms(body, sent_at=at) if sms else sent_whatsapp(body, sent_at=at)
        return handle_inbound(receive(self.store, item, self.clock()), self.inbound)

    def ticket(self, external_id: str) -> dict[str, Any]:
        [found] = [t for t in self.zendesk.tickets.values() if t.get("external_id") == external_id]
        return found

    def reply(self, comment_id: int, body: str = "Yes, it ships today.") -> str:
        ticket = self.ticket(conversation_external_id(ALICE, WA))
        data = comment_added({**ticket, "tags": ticket.get("tags")}, comment_id, body,
                             author_id=self.agent)
        return runner(self.replies).run_event(receive(self.store, data, self.clock()))

    def sent(self, conversation: str = WA_CONVERSATION) -> list[str]:
        return [body for c, body in self.klaviyo.sent if c == conversation]

    def notes(self) -> list[str]:
        return self.zendesk.notes_on(self.ticket(conversation_external_id(ALICE, WA))["id"])


def test_s9_a_whatsapp_message_opens_a_ticket_tagged_whatsapp_apart_from_sms() -> None:
    shop = Shop()
    shop.writes("Hi on SMS", sms=True)
    shop.writes("Hi on WhatsApp")
    sms = shop.ticket(f"zkb-sms:{ALICE}:{TOLL_FREE}")
    wa = shop.ticket(f"zkb-wa:{ALICE}:{TOLL_FREE}")
    assert sms["id"] != wa["id"]
    assert "sms" in sms["tags"] and "whatsapp" not in sms["tags"]
    assert "whatsapp" in wa["tags"] and "sms" not in wa["tags"]
    assert wa["subject"].startswith("WhatsApp from")
    shop.writes("Still there?")
    assert [c.body for c in shop.zendesk.comments(wa["id"])] == ["Hi on WhatsApp",
                                                                 "Still there?"]


def test_s9_s1_a_customer_without_whatsapp_consent_makes_no_ticket() -> None:
    shop = Shop(customer=profile(ALICE))         # SMS consent only
    shop.writes()
    assert shop.zendesk.tickets == {}


def test_s9_s2_an_opt_out_keyword_on_whatsapp_is_not_a_comment() -> None:
    shop = Shop()
    shop.writes("STOP")
    assert shop.zendesk.tickets == {}
    shop.writes("Where is my parcel?")               # the next message is a ticket
    assert len(shop.zendesk.tickets) == 1


def test_s9_a_reply_goes_out_once_in_the_whatsapp_conversation() -> None:
    shop = Shop()
    shop.writes()
    shop.reply(7001)
    assert shop.sent() == ["Yes, it ships today."] and shop.sent(SMS_CONVERSATION) == []
    assert (shop.store.ledger.reply_state(7001) or {}).get("state") == "sent"
    shop.reply(7001)                                  # Zendesk sends it again: not sent twice
    assert shop.sent() == ["Yes, it ships today."]


def test_s9_a_reply_after_24_hours_is_held_with_one_note_and_sent_when_the_customer_writes(
) -> None:
    shop = Shop()
    shop.writes()
    shop.clock.advance(WINDOW_SECONDS + 60)
    with pytest.raises(Deferred) as held:
        shop.reply(7001)
    assert held.value.scheduled and shop.sent() == []
    [note] = shop.notes()
    assert "24 hours" in note and "S9" in note
    with pytest.raises(Deferred):                 # looked at again later: still one note
        runner(shop.replies).run_event(_head(shop))
    assert len(shop.notes()) == 1
    shop.writes("Hello?")                         # the window opens again: the reply is woken
    due = dict(shop.store.due.take_due(shop.clock()))
    assert list(due) == [_head(shop)]
    runner(shop.replies).run_event(_head(shop))
    assert shop.sent() == ["Yes, it ships today."]
    assert len(shop.notes()) == 1


def test_s9_klaviyos_refusal_outside_the_window_holds_the_reply_with_one_note() -> None:
    shop = Shop()
    shop.writes()
    shop.klaviyo.fail_next("send_conversation_message", Permanent(
        "klaviyo", "refused", 400, {"errors": [{"code": "whatsapp_outside_window"}]}))
    with pytest.raises(Deferred):
        shop.reply(7001)
    [note] = shop.notes()
    assert "24 hours" in note
    assert shop.store.ledger.reply_state(7001) is None      # not sent, not failed
    with pytest.raises(Deferred):          # refused before: held without asking Klaviyo again
        runner(shop.replies).run_event(_head(shop))
    assert shop.klaviyo.calls["send_conversation_message"] == 1


def test_s9_the_agent_can_send_a_held_reply_through_the_template_flow() -> None:
    shop = Shop(template_metric=TEMPLATE)
    shop.writes()
    shop.clock.advance(WINDOW_SECONDS + 60)
    with pytest.raises(Deferred):
        shop.reply(7001)
    assert SEND_TEMPLATE_TAG in shop.notes()[0] and TEMPLATE in shop.notes()[0]
    ticket = shop.ticket(conversation_external_id(ALICE, WA))
    ticket["tags"] = [*ticket["tags"], SEND_TEMPLATE_TAG]
    release = receive(shop.store, tags_changed(ticket, added=(SEND_TEMPLATE_TAG,)),
                      shop.clock())
    assert release_runner(shop.store, shop.clock, 8).run_event(release) == "applied:released"
    runner(shop.replies).run_event(_head(shop))
    [event] = [e for e in shop.klaviyo.events if e["metric"] == TEMPLATE]
    assert event["properties"]["body"] == "Yes, it ships today."
    assert event["profile"] == {"phone_number": ALICE}
    assert shop.sent() == []                       # no free-form message
    assert len(shop.notes()) == 2                  # held, then sent as a template


def _head(shop: Shop) -> str:
    ticket = shop.ticket(conversation_external_id(ALICE, WA))
    head = shop.store.queues.head(f"reply|{ticket['id']}")
    assert head is not None
    return head.split("|", 1)[1]
