"""A9's wording and tags (pure), and reading the last campaign/flow SMS out of Klaviyo's
events list (conversation replies and broken events skipped, never an error)."""

from __future__ import annotations

from bridge.adapters.klaviyo import last_marketing_sms
from bridge.domain.context import (
    BODY_CHARS,
    LastSms,
    TicketContext,
    context_tags,
    context_text,
)

SALE = LastSms("campaign", "Winter sale", "20% off boots", 1_796_081_580.0)


def received(props: dict, when: str = "2026-12-01T10:00:00+00:00") -> dict:
    return {"type": "event", "attributes": {"datetime": when, "event_properties": props}}


def test_the_field_names_the_campaign_its_text_when_and_the_consent() -> None:
    text = context_text(TicketContext(SALE), "marketing")
    assert text is not None
    first, quoted, consent = text.splitlines()
    assert first == "Last SMS from the brand: campaign “Winter sale”, 2026-11-30 23:33 UTC"
    assert quoted == "“20% off boots”"
    assert consent == "Consent: subscribed to SMS marketing"


def test_no_sms_on_record_and_transactional_consent_are_said_plainly() -> None:
    text = context_text(TicketContext(None), "transactional")
    assert text == ("Last SMS from the brand: none on record in Klaviyo\n"
                    "Consent: transactional SMS only (not subscribed to marketing)")
    assert context_tags(TicketContext(None), "transactional") == ["sms_consent_transactional"]


def test_a_long_text_is_cut_at_a_word_and_flattened_to_one_line() -> None:
    long = LastSms("flow", "Welcome", "word " * 200 + "\n\nend", 0.0)
    quoted = (context_text(TicketContext(long), None) or "").splitlines()[1]
    assert quoted.endswith("…”") and len(quoted) <= BODY_CHARS + 3 and "\n" not in quoted


def test_unknown_context_shows_nothing_rather_than_a_guess() -> None:
    unknown = TicketContext(None, known=False)
    assert context_text(unknown, "marketing") is None
    assert context_tags(unknown, "marketing") == []


def test_tags_say_where_the_last_sms_came_from() -> None:
    assert context_tags(TicketContext(SALE), "marketing") == ["sms_consent_marketing",
                                                              "last_sms_campaign"]


def test_the_newest_campaign_or_flow_sms_is_picked_past_replies_and_broken_events() -> None:
    events = [
        received({"Message Body": "Your order shipped"}),                 # a conversation reply
        {"attributes": "broken"},
        received({"Flow Name": "Back in stock"}, when="not a time"),
        received({"Flow Name": "Back in stock", "Message Body": "Boots are back"},
                 when="2026-11-30T08:00:00Z"),
        received({"Campaign Name": "Winter sale", "Message Body": "older"}),
    ]
    found = last_marketing_sms(events)
    assert found == LastSms("flow", "Back in stock", "Boots are back", 1_796_025_600.0)


def test_no_campaign_or_flow_sms_is_none() -> None:
    assert last_marketing_sms([received({"Message Body": "a reply"})]) is None
    assert last_marketing_sms([]) is None
