"""Splitting verified deliveries into events (E4: a malformed body is a 400 naming the problem)."""

from __future__ import annotations

import json

import pytest

from bridge.domain.model import RawEvent
from bridge.payloads.envelopes import EnvelopeError, split_klaviyo, split_zendesk


def klaviyo_item(event_id: str = "4VzL9pBqzZa", topic: str = "event:klaviyo.sent_sms") -> dict:
    return {"external_id": event_id, "topic": topic,
            "payload": {"type": "event", "id": event_id,
                        "attributes": {"timestamp": 1764064327,
                                       "event_properties": {"Message Body": "hi"}}}}


def klaviyo_body(items: list) -> bytes:
    return json.dumps({"data": items, "meta": {"klaviyo_webhook_id": "wh1"}}).encode()


def zendesk_body(**overrides: object) -> bytes:
    doc = {"id": "0d3b6f7e-1c5a-4e8e-9f1e-2b7c3d4e5f60",
           "type": "zen:event-type:ticket.created", "subject": "zen:ticket:5158",
           "detail": {"id": "5158", "status": "NEW"}, "event": {}}
    doc.update(overrides)
    return json.dumps(doc).encode()


def problem(split, body: bytes) -> str:  # noqa: ANN001
    with pytest.raises(EnvelopeError) as err:
        split(body)
    return str(err.value)


# --- Klaviyo --------------------------------------------------------------------------------

def test_a_klaviyo_delivery_splits_into_its_events_in_delivery_order() -> None:
    events = split_klaviyo(klaviyo_body([klaviyo_item("a1"), klaviyo_item("b2", "event:klaviyo"
                                                                                ".received_sms")]))
    assert [(e.source, e.id, e.kind) for e in events] == [
        ("klaviyo", "a1", "event:klaviyo.sent_sms"),
        ("klaviyo", "b2", "event:klaviyo.received_sms")]
    assert events[0].data["payload"]["attributes"]["event_properties"] == {"Message Body": "hi"}


def test_an_event_ref_carries_source_and_id_only() -> None:
    assert RawEvent("klaviyo", "a1", "t", {"x": "+15551234567"}).ref == "klaviyo:a1"


def test_a_klaviyo_event_without_payload_id_falls_back_to_external_id() -> None:
    item = klaviyo_item("ext9")
    del item["payload"]["id"]
    assert split_klaviyo(klaviyo_body([item]))[0].id == "ext9"


@pytest.mark.parametrize("body", [b"", b"not json", b"{\"data\": [", b"\xff\xfe\x00garbage"])
def test_a_klaviyo_body_that_is_not_json_is_rejected(body: bytes) -> None:
    assert "not valid JSON" in problem(split_klaviyo, body)


def test_a_deeply_nested_body_is_a_bad_body_not_a_crash() -> None:
    """json raises RecursionError here, which must become a 400, never a 500."""
    assert "not valid JSON" in problem(split_klaviyo, b"[" * 100_000)
    assert "not valid JSON" in problem(split_zendesk, b"{\"a\":" * 100_000)


def test_a_body_with_a_huge_integer_is_a_bad_body_not_a_crash() -> None:
    """Python refuses to parse integers over 4300 digits with a plain ValueError."""
    assert "not valid JSON" in problem(split_klaviyo, b'{"data": [' + b"1" * 5000 + b"]}")


@pytest.mark.parametrize("doc", [[], "data", {"events": []}, {"data": {"topic": "x"}},
                                 {"data": None}])
def test_a_klaviyo_body_without_a_data_list_is_rejected(doc: object) -> None:
    assert "'data' list" in problem(split_klaviyo, json.dumps(doc).encode())


def test_a_klaviyo_delivery_with_no_events_is_rejected() -> None:
    assert "no events" in problem(split_klaviyo, klaviyo_body([]))


def test_a_klaviyo_delivery_of_1000_events_is_accepted() -> None:
    items = [klaviyo_item(f"ev{i}") for i in range(1000)]
    events = split_klaviyo(klaviyo_body(items))
    assert len(events) == 1000
    assert events[-1].id == "ev999"


def test_a_klaviyo_delivery_of_1001_events_is_rejected() -> None:
    items = [klaviyo_item(f"ev{i}") for i in range(1001)]
    assert "1001 events; at most 1000" in problem(split_klaviyo, klaviyo_body(items))


def test_a_klaviyo_event_that_is_not_an_object_is_named_by_position() -> None:
    assert "data[1] must be an object" in problem(split_klaviyo,
                                                  klaviyo_body([klaviyo_item(), "oops"]))


def test_a_klaviyo_event_without_payload_is_named_by_position() -> None:
    item = klaviyo_item()
    item["payload"] = "x"
    assert "data[0].payload must be an object" in problem(split_klaviyo, klaviyo_body([item]))


@pytest.mark.parametrize("topic", [None, "", 7])
def test_a_klaviyo_event_without_topic_is_rejected(topic: object) -> None:
    item = klaviyo_item()
    item["topic"] = topic
    assert "data[0].topic" in problem(split_klaviyo, klaviyo_body([item]))


@pytest.mark.parametrize(("event_id", "message"), [
    (None, "must be a non-empty string"),
    ("", "must be a non-empty string"),
    ("   ", "must be a non-empty string"),
    (["a"], "must be a non-empty string"),
    (True, "must be a non-empty string"),
    ("has space", "not a valid event id"),
    ("line\nbreak", "not a valid event id"),
    ("x" * 201, "not a valid event id"),
])
def test_a_klaviyo_event_with_a_bad_id_is_rejected(event_id: object, message: str) -> None:
    item = klaviyo_item()
    item["payload"]["id"] = event_id
    item["external_id"] = None
    text = problem(split_klaviyo, klaviyo_body([klaviyo_item("ok"), item]))
    assert "data[1].payload.id" in text
    assert message in text


def test_a_numeric_event_id_is_kept_as_text() -> None:
    item = klaviyo_item()
    item["payload"]["id"] = 12345
    assert split_klaviyo(klaviyo_body([item]))[0].id == "12345"


def test_an_event_id_of_200_characters_is_accepted() -> None:
    item = klaviyo_item("x" * 200)
    assert split_klaviyo(klaviyo_body([item]))[0].id == "x" * 200


# --- Zendesk --------------------------------------------------------------------------------

def test_a_zendesk_delivery_is_one_event() -> None:
    [event] = split_zendesk(zendesk_body())
    assert (event.source, event.id, event.kind) == (
        "zendesk", "0d3b6f7e-1c5a-4e8e-9f1e-2b7c3d4e5f60", "zen:event-type:ticket.created")
    assert event.data["detail"]["id"] == "5158"


@pytest.mark.parametrize("body", [b"", b"<xml/>", b"{'id': 1}"])
def test_a_zendesk_body_that_is_not_json_is_rejected(body: bytes) -> None:
    assert "not valid JSON" in problem(split_zendesk, body)


@pytest.mark.parametrize("doc", [[], [{"id": "1"}], "text", 5])
def test_a_zendesk_body_that_is_not_an_object_is_rejected(doc: object) -> None:
    assert "expected a JSON object" in problem(split_zendesk, json.dumps(doc).encode())


@pytest.mark.parametrize("kind", [None, "", 3])
def test_a_zendesk_event_without_type_is_rejected(kind: object) -> None:
    assert "'type' must be a non-empty string" in problem(split_zendesk, zendesk_body(type=kind))


@pytest.mark.parametrize("detail", [None, [], "5158"])
def test_a_zendesk_event_without_detail_object_is_rejected(detail: object) -> None:
    assert "'detail' must be an object" in problem(split_zendesk, zendesk_body(detail=detail))


@pytest.mark.parametrize(("event_id", "message"), [(None, "non-empty string"),
                                                   ("", "non-empty string"),
                                                   ("a b", "not a valid event id"),
                                                   ("x" * 201, "not a valid event id")])
def test_a_zendesk_event_with_a_bad_id_is_rejected(event_id: object, message: str) -> None:
    text = problem(split_zendesk, zendesk_body(id=event_id))
    assert "'id'" in text
    assert message in text
