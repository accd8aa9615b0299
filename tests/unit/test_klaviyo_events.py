"""Reading Klaviyo `sent_sms` webhook items (the API-NOTES payload shape) into InboundSms."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bridge.payloads.klaviyo_events import EventShapeError, order_score, parse_inbound_sms


def item(props: dict[str, Any] | None = None, **attributes: Any) -> dict[str, Any]:
    """One element of a delivery's `data` list, shaped as in API-NOTES."""
    event_properties = {"Message Body": "Where is my order?", "To Number": "+18005550100",
                        "From Number": "+15551234567"}
    event_properties.update(props or {})
    attrs: dict[str, Any] = {"timestamp": 1764065527, "datetime": "2026-11-25T10:12:07+00:00",
                             "uuid": "5f1e...", "event_properties": event_properties}
    attrs.update(attributes)
    return {"external_id": "4VzL9pBqzZa", "topic": "event:klaviyo.sent_sms",
            "payload": {"type": "event", "id": "4VzL9pBqzZa", "attributes": attrs,
                        "relationships": {
                            "profile": {"data": {"type": "profile", "id": "01JPROFILE"}},
                            "metric": {"data": {"type": "metric", "id": "M1"}}}}}


def test_a_sent_sms_event_becomes_an_inbound_sms() -> None:
    sms = parse_inbound_sms(item())
    assert sms.event_id == "4VzL9pBqzZa"
    assert sms.profile_id == "01JPROFILE"
    assert sms.customer_phone == "+15551234567"
    assert sms.brand_number == "+18005550100"
    assert sms.body == "Where is my order?"
    assert sms.media_count == 0
    assert sms.sent_at == datetime(2026, 11, 25, 10, 12, 7, tzinfo=UTC)


def test_the_customer_phone_is_normalised_to_e164() -> None:
    assert parse_inbound_sms(item({"From Number": "1 (555) 123-4567"})).customer_phone == \
        "+15551234567"


@pytest.mark.parametrize("props", [{"From Number": None}, {"From Number": ""},
                                   {"From Number": "not a phone"}])
def test_a_missing_or_unusable_from_number_leaves_the_customer_phone_unknown(props: dict) -> None:
    assert parse_inbound_sms(item(props)).customer_phone is None


def test_an_absent_from_number_leaves_the_customer_phone_unknown() -> None:
    it = item()
    del it["payload"]["attributes"]["event_properties"]["From Number"]
    assert parse_inbound_sms(it).customer_phone is None


def test_media_urls_are_counted() -> None:
    urls = ["https://media.klaviyo.com/a.jpg", "https://media.klaviyo.com/b.gif"]
    assert parse_inbound_sms(item({"Media URLs": urls})).media_count == 2


def test_a_single_media_url_string_counts_as_one() -> None:
    assert parse_inbound_sms(item({"Media URLs": "https://m/a.jpg"})).media_count == 1


def test_a_picture_only_message_has_an_empty_body() -> None:
    sms = parse_inbound_sms(item({"Message Body": None, "Media URLs": ["https://m/a.jpg"]}))
    assert (sms.body, sms.media_count) == ("", 1)


def test_a_short_code_given_as_a_number_is_read_as_its_digits() -> None:
    assert parse_inbound_sms(item({"To Number": 12345})).brand_number == "12345"


def test_a_branded_sender_id_is_passed_through_for_the_rules_to_drop() -> None:
    assert parse_inbound_sms(item({"To Number": " ACME "})).brand_number == "ACME"


def test_a_datetime_with_microseconds_is_kept_to_the_microsecond() -> None:
    sms = parse_inbound_sms(item(datetime="2026-11-25T10:12:07.123456+00:00"))
    assert sms.sent_at == datetime(2026, 11, 25, 10, 12, 7, 123456, tzinfo=UTC)


def test_a_datetime_in_another_offset_or_with_z_is_the_same_instant() -> None:
    a = parse_inbound_sms(item(datetime="2026-11-25T11:12:07+01:00")).sent_at
    b = parse_inbound_sms(item(datetime="2026-11-25T10:12:07Z")).sent_at
    assert a == b == datetime(2026, 11, 25, 10, 12, 7, tzinfo=UTC)


def test_a_datetime_without_offset_is_taken_as_utc() -> None:
    sent = parse_inbound_sms(item(datetime="2026-11-25T10:12:07")).sent_at
    assert sent == datetime(2026, 11, 25, 10, 12, 7, tzinfo=UTC)


@pytest.mark.parametrize("raw", [None, "garbage", 12])
def test_the_unix_timestamp_is_used_when_datetime_is_missing_or_bad(raw: object) -> None:
    sent = parse_inbound_sms(item(datetime=raw, timestamp=1764065527)).sent_at
    assert sent == datetime.fromtimestamp(1764065527, tz=UTC)


@pytest.mark.parametrize("timestamp", [None, "1764065527", 1e20])
def test_an_event_with_no_usable_time_is_malformed(timestamp: object) -> None:
    with pytest.raises(EventShapeError, match="datetime"):
        parse_inbound_sms(item(datetime=None, timestamp=timestamp))


@pytest.mark.parametrize("props", [{"To Number": None}, {"To Number": ""}, {"To Number": "  "},
                                   {"To Number": ["+18005550100"]}])
def test_a_text_without_the_brand_number_is_malformed(props: dict) -> None:
    with pytest.raises(EventShapeError, match="To Number"):
        parse_inbound_sms(item(props))


def test_a_missing_to_number_is_malformed() -> None:
    it = item()
    del it["payload"]["attributes"]["event_properties"]["To Number"]
    with pytest.raises(EventShapeError, match="To Number"):
        parse_inbound_sms(it)


def test_a_message_body_that_is_not_text_is_malformed() -> None:
    with pytest.raises(EventShapeError, match="Message Body"):
        parse_inbound_sms(item({"Message Body": {"text": "hi"}}))


def test_event_properties_that_are_not_an_object_are_malformed() -> None:
    with pytest.raises(EventShapeError, match="event_properties"):
        parse_inbound_sms(item(event_properties=["hi"]))


def test_attributes_that_are_not_an_object_are_malformed() -> None:
    it = item()
    it["payload"]["attributes"] = "oops"
    with pytest.raises(EventShapeError, match="attributes"):
        parse_inbound_sms(it)


def test_an_event_without_a_profile_relationship_has_no_profile_id() -> None:
    it = item()
    del it["payload"]["relationships"]
    assert parse_inbound_sms(it).profile_id is None


# --- S7 order -------------------------------------------------------------------------------

def test_s7_order_score_orders_texts_sent_within_the_same_second_by_microsecond() -> None:
    texts = [item(datetime=f"2026-11-25T10:12:07.{us:06d}+00:00") for us in (3, 1, 2, 999999, 0)]
    scores = [order_score(t) for t in texts]
    assert sorted(range(5), key=scores.__getitem__) == [4, 1, 2, 0, 3]
    assert len(set(scores)) == 5


def test_s7_order_score_separates_neighbouring_microseconds() -> None:
    a = order_score(item(datetime="2026-11-25T10:12:07.000001+00:00"))
    b = order_score(item(datetime="2026-11-25T10:12:07.000002+00:00"))
    assert a < b


def test_s7_order_score_falls_back_to_the_unix_timestamp() -> None:
    assert order_score(item(datetime=None, timestamp=1764065527)) == 1764065527.0


def test_s7_order_score_of_an_event_without_time_sorts_first_rather_than_failing() -> None:
    assert order_score(item(datetime=None, timestamp=None)) == 0.0
    assert order_score({"payload": {"attributes": "oops"}}) == 0.0
    assert order_score({}) == 0.0
