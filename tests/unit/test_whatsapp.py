"""S9 WhatsApp, the pure parts: the [assumed] webhook item, consent from
`subscriptions.whatsapp`, a conversation identity apart from SMS (with today's SMS keys and
external_ids read unchanged), and the 24-hour window decision."""

from __future__ import annotations

import json
from dataclasses import asdict

import fakeredis

from bridge.adapters.conversations import Conversations
from bridge.adapters.klaviyo import profile_from_resource
from bridge.domain import sms_rules
from bridge.domain.model import (
    Conversation,
    Profile,
    channel_of,
    conversation_brand,
    conversation_external_id,
    parse_external_id,
)
from bridge.domain.whatsapp import SEND_TEMPLATE_TAG, WINDOW_SECONDS, WindowState, send_mode
from bridge.payloads.routes import queue_of
from bridge.payloads.whatsapp import is_window_refusal, parse_inbound
from tests.factories import ALICE, TOLL_FREE, profile, raw_event, sent_sms, sent_whatsapp

WA_BRAND = conversation_brand("whatsapp", TOLL_FREE)


def test_s9_a_whatsapp_item_is_read_as_a_message_on_the_whatsapp_channel() -> None:
    message = parse_inbound(sent_whatsapp("Is it in stock?"))
    assert (message.channel, message.body, message.customer_phone, message.brand_number) == \
        ("whatsapp", "Is it in stock?", ALICE, TOLL_FREE)
    assert parse_inbound(sent_sms("Is it in stock?")).channel == "sms"


def test_s9_a_whatsapp_message_waits_in_its_own_queue_not_the_sms_one() -> None:
    wa_queue, _ = queue_of(raw_event(sent_whatsapp())) or ("", 0)
    sms_queue, _ = queue_of(raw_event(sent_sms())) or ("", 0)
    assert sms_queue == f"{ALICE}|{TOLL_FREE}"           # S7's key as before
    assert wa_queue == f"{ALICE}|wa:{TOLL_FREE}"


def test_s9_sms_external_ids_keep_todays_format_and_whatsapp_ones_name_the_channel() -> None:
    assert conversation_external_id(ALICE, TOLL_FREE) == f"zkb-sms:{ALICE}:{TOLL_FREE}"
    assert parse_external_id(f"zkb-sms:{ALICE}:{TOLL_FREE}") == (ALICE, TOLL_FREE)
    wa = conversation_external_id(ALICE, WA_BRAND)
    assert wa == f"zkb-wa:{ALICE}:{TOLL_FREE}"
    assert parse_external_id(wa) == (ALICE, WA_BRAND)
    assert channel_of(WA_BRAND) == "whatsapp" and channel_of(TOLL_FREE) == "sms"
    assert parse_external_id("zkb-wa:") is None and parse_external_id("other") is None


def test_s9_a_conversation_cached_before_whatsapp_existed_still_loads() -> None:
    """Today's Redis layout: zkb:conv:<phone>:<brand> and zkb:ticketconv:<id> = phone:brand."""
    r = fakeredis.FakeRedis()
    r.hset(f"zkb:conv:{ALICE}:{TOLL_FREE}", mapping={
        "phone": ALICE, "brand_number": TOLL_FREE, "ticket_id": "42", "ticket_status": "open",
        "requester_id": "7", "profile_id": "", "klaviyo_conversation_id": ""})
    r.set("zkb:ticketconv:42", f"{ALICE}:{TOLL_FREE}")
    convs = Conversations(r)
    assert convs.get_conversation(ALICE, TOLL_FREE) == Conversation(
        ALICE, TOLL_FREE, ticket_id=42, ticket_status="open", requester_id=7)
    assert convs.ticket_conversation(42) == (ALICE, TOLL_FREE)
    assert convs.get_conversation(ALICE, WA_BRAND) is None      # WhatsApp: its own key


def test_s9_the_customers_last_message_time_only_moves_forward() -> None:
    convs = Conversations(fakeredis.FakeRedis())
    convs.customer_wrote(ALICE, WA_BRAND, 100.0)                # nothing cached: not stored
    assert convs.last_customer_message(ALICE, WA_BRAND) is None
    convs.put_conversation(Conversation(ALICE, WA_BRAND, ticket_id=5))
    convs.customer_wrote(ALICE, WA_BRAND, 200.0)
    convs.customer_wrote(ALICE, WA_BRAND, 150.0)                # applied late: older
    assert convs.last_customer_message(ALICE, WA_BRAND) == 200.0
    convs.put_conversation(Conversation(ALICE, WA_BRAND, ticket_id=5, ticket_status="open"))
    assert convs.last_customer_message(ALICE, WA_BRAND) == 200.0   # a put keeps it


def test_s9_whatsapp_consent_comes_from_subscriptions_whatsapp() -> None:
    def resource(whatsapp: dict[str, object]) -> dict[str, object]:
        return {"id": "01P", "attributes": {"phone_number": ALICE, "subscriptions": {
            "sms": {"marketing": {"consent": "UNSUBSCRIBED"}}, "whatsapp": whatsapp}}}
    conversational = profile_from_resource(resource({"conversational": {
        "consent": "SUBSCRIBED"}}))
    assert conversational.whatsapp_consent == "conversational"
    assert conversational.can_receive("whatsapp") and not conversational.can_receive("sms")
    none = profile_from_resource(resource({"marketing": {"consent": "UNSUBSCRIBED"}}))
    assert none.whatsapp_consent is None and not none.can_receive("whatsapp")
    blocked = profile_from_resource(resource({"marketing": {"consent": "SUBSCRIBED",
                                                            "can_receive": False}}))
    assert blocked.whatsapp_consent is None


def test_s9_a_profile_cached_before_whatsapp_existed_loads_without_whatsapp_consent() -> None:
    stored = asdict(profile())
    del stored["whatsapp_consent"]
    old = Profile(**json.loads(json.dumps(stored)))
    assert old.whatsapp_consent is None and old.can_receive("sms")


def test_s9_s1_consent_is_checked_on_the_messages_channel() -> None:
    sms_only = profile()
    both = profile(whatsapp="transactional")
    assert sms_rules.check_consent(sms_only, "whatsapp") is not None
    assert sms_rules.check_consent(sms_only, "sms") is None
    assert sms_rules.check_consent(both, "whatsapp") is None


def test_s9_the_window_is_closed_24_hours_after_the_customers_last_message() -> None:
    assert not WindowState(1000.0, 1000.0 + WINDOW_SECONDS).closed
    assert WindowState(1000.0, 1000.0 + WINDOW_SECONDS + 1).closed
    assert not WindowState(None, 10**9).closed              # unknown: Klaviyo decides
    assert WindowState(None, 5000.0, refused_at=4000.0).closed
    assert WindowState(1000.0, 1500.0, refused_at=1200.0).closed    # refused since
    assert not WindowState(1300.0, 1500.0, refused_at=1200.0).closed   # customer wrote since


def test_s9_outside_the_window_a_reply_is_held_unless_a_template_is_asked_for() -> None:
    tagged = frozenset({SEND_TEMPLATE_TAG})
    assert send_mode(False, tagged, "Tmpl") == "free_form"
    assert send_mode(True, frozenset(), "Tmpl") == "hold"
    assert send_mode(True, tagged, None) == "hold"           # no flow configured
    assert send_mode(True, tagged, "Tmpl") == "template"


def test_s9_klaviyos_refusal_outside_the_window_is_told_apart_from_other_refusals() -> None:
    def body(code: str, detail: str = "") -> dict[str, object]:
        return {"errors": [{"code": code, "detail": detail}]}
    assert is_window_refusal(400, body("whatsapp_outside_window"))
    assert is_window_refusal(400, body("invalid", "(#131047) Re-engagement message"))
    assert not is_window_refusal(400, body("invalid", "body required"))
    assert not is_window_refusal(429, body("whatsapp_outside_window"))
    assert not is_window_refusal(None, None)
