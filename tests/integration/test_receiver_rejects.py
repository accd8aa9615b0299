"""Deliveries the receiver must refuse, each with its own answer (E4): 401 with the reason for a
bad signature or timestamp, 400 naming the problem for a malformed body, 413 for a body too
large. A refused delivery leaves nothing kept and nothing queued; rejections are counted."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import pytest
import redis

from tests.integration.conftest import Receiver
from tests.integration.support import (
    KLAVIYO_SECRET,
    ZENDESK_SECRET,
    iso_utc,
    klaviyo_body,
    klaviyo_event,
    klaviyo_headers,
    klaviyo_signature,
    nothing_kept_or_queued,
    zendesk_event,
    zendesk_headers,
    zendesk_signature,
)

KLAVIYO_BODY = klaviyo_body([klaviyo_event("01JSIGNED")])
ZENDESK_BODY = json.dumps(zendesk_event()).encode()
SIX_MINUTES = 360


def klaviyo_case(case: str) -> dict[str, str]:
    body, now = KLAVIYO_BODY, time.time()
    good = klaviyo_headers(body)
    ts = good["Klaviyo-Timestamp"]
    if case == "wrong_secret":
        return klaviyo_headers(body, secret="not-" + KLAVIYO_SECRET)
    if case == "truncated":
        return {**good, "Klaviyo-Signature": good["Klaviyo-Signature"][:32]}
    if case == "stale":
        return klaviyo_headers(body, at=now - SIX_MINUTES)
    if case == "future":
        return klaviyo_headers(body, at=now + SIX_MINUTES)
    if case == "base64_instead_of_hex":
        digest = bytes.fromhex(klaviyo_signature(body, ts))
        return {**good, "Klaviyo-Signature": base64.b64encode(digest).decode()}
    if case == "iso_timestamp":
        iso = iso_utc(now)
        return {"Klaviyo-Timestamp": iso, "Klaviyo-Signature": klaviyo_signature(body, iso)}
    if case == "no_signature":
        return {"Klaviyo-Timestamp": ts}
    if case == "no_timestamp":
        return {"Klaviyo-Signature": good["Klaviyo-Signature"]}
    assert case == "no_headers"
    return {}


def zendesk_case(case: str) -> dict[str, str]:
    body, now = ZENDESK_BODY, time.time()
    good = zendesk_headers(body)
    ts = good["X-Zendesk-Webhook-Signature-Timestamp"]
    if case == "wrong_secret":
        return zendesk_headers(body, secret="not-" + ZENDESK_SECRET)
    if case == "truncated":
        return {**good, "X-Zendesk-Webhook-Signature": good["X-Zendesk-Webhook-Signature"][:24]}
    if case == "stale":
        return zendesk_headers(body, at=now - SIX_MINUTES)
    if case == "future":
        return zendesk_headers(body, at=now + SIX_MINUTES)
    if case == "hex_instead_of_base64":
        digest = base64.b64decode(zendesk_signature(body, ts))
        return {**good, "X-Zendesk-Webhook-Signature": digest.hex()}
    if case == "unix_timestamp":
        unix = str(int(now))
        return {"X-Zendesk-Webhook-Signature-Timestamp": unix,
                "X-Zendesk-Webhook-Signature": zendesk_signature(body, unix)}
    if case == "no_signature":
        return {"X-Zendesk-Webhook-Signature-Timestamp": ts}
    if case == "no_timestamp":
        return {"X-Zendesk-Webhook-Signature": good["X-Zendesk-Webhook-Signature"]}
    assert case == "no_headers"
    return {}


SIGNATURE_CASES = [
    ("klaviyo", "wrong_secret", "bad_signature"),
    ("klaviyo", "truncated", "bad_signature"),
    ("klaviyo", "stale", "stale_timestamp"),
    ("klaviyo", "future", "future_timestamp"),
    ("klaviyo", "base64_instead_of_hex", "bad_signature"),
    ("klaviyo", "iso_timestamp", "bad_timestamp"),
    ("klaviyo", "no_signature", "missing_headers"),
    ("klaviyo", "no_timestamp", "missing_headers"),
    ("klaviyo", "no_headers", "missing_headers"),
    ("zendesk", "wrong_secret", "bad_signature"),
    ("zendesk", "truncated", "bad_signature"),
    ("zendesk", "stale", "stale_timestamp"),
    ("zendesk", "future", "future_timestamp"),
    ("zendesk", "hex_instead_of_base64", "bad_signature"),
    ("zendesk", "unix_timestamp", "bad_timestamp"),
    ("zendesk", "no_signature", "missing_headers"),
    ("zendesk", "no_timestamp", "missing_headers"),
    ("zendesk", "no_headers", "missing_headers"),
]


@pytest.mark.parametrize(("source", "case", "reason"), SIGNATURE_CASES,
                         ids=[f"{s}-{c}" for s, c, _ in SIGNATURE_CASES])
def test_a_delivery_failing_its_signature_check_is_refused_with_the_reason_and_counted(
        receiver: Receiver, r: redis.Redis, source: str, case: str, reason: str) -> None:
    body = KLAVIYO_BODY if source == "klaviyo" else ZENDESK_BODY
    headers = klaviyo_case(case) if source == "klaviyo" else zendesk_case(case)

    resp = receiver.client.post(f"/webhooks/{source}", data=body, headers=headers)

    assert resp.status_code == 401
    assert resp.is_json and resp.json["error"] == reason
    assert nothing_kept_or_queued(r)
    assert receiver.store.outcomes.counters() == {f"{source}:rejected:{reason}": 1}


@pytest.mark.parametrize("source", ["klaviyo", "zendesk"])
def test_a_delivery_signed_four_minutes_ago_is_still_accepted(
        receiver: Receiver, source: str) -> None:
    body, sign = ((KLAVIYO_BODY, klaviyo_headers) if source == "klaviyo"
                  else (ZENDESK_BODY, zendesk_headers))
    resp = receiver.client.post(f"/webhooks/{source}", data=body,
                                headers=sign(body, at=time.time() - 240))
    assert resp.status_code == 202


# --- malformed bodies: 400 naming the problem --------------------------------------------------

def _thousand_and_one() -> bytes:
    return klaviyo_body([klaviyo_event(f"ev{i:04d}") for i in range(1001)])


def _no_event_id() -> bytes:
    item = klaviyo_event("01JNOID")
    del item["payload"]["id"]
    del item["external_id"]
    return klaviyo_body([klaviyo_event("01JGOOD"), item])


def _zendesk_without(key: str) -> bytes:
    doc = zendesk_event()
    del doc[key]
    return json.dumps(doc).encode()


def _lone_surrogate(where: str) -> bytes:
    """A JSON escape for half a UTF-16 pair: valid JSON syntax, but not text."""
    if where == "zendesk_type":
        return json.dumps(zendesk_event(kind="zen:event-type:\ud800")).encode()
    item = klaviyo_event("01J\ud800" if where == "event_id" else "01JSURR",
                         brand="+1800\udfff" if where == "to_number" else "+18005550100")
    return klaviyo_body([item])


MALFORMED: list[tuple[str, str, Callable[[], bytes], str]] = [
    ("klaviyo", "not_json", lambda: b'{"data": [', "not valid JSON"),
    ("klaviyo", "json_array", lambda: json.dumps([klaviyo_event("01J")]).encode(),
     "'data' list"),
    ("klaviyo", "missing_data", lambda: b'{"meta": {"version": "2026-07-15"}}', "'data' list"),
    ("klaviyo", "empty_data", lambda: klaviyo_body([]), "'data' holds no events"),
    ("klaviyo", "1001_events", _thousand_and_one, "1001 events; at most 1000"),
    ("klaviyo", "event_without_id", _no_event_id, "data[1].payload.id"),
    ("klaviyo", "lone_surrogate_in_id", lambda: _lone_surrogate("event_id"), "surrogate"),
    ("klaviyo", "lone_surrogate_in_number", lambda: _lone_surrogate("to_number"), "surrogate"),
    ("zendesk", "not_json", lambda: b"id=1&type=ticket", "not valid JSON"),
    ("zendesk", "json_array", lambda: json.dumps([zendesk_event()]).encode(), "JSON object"),
    ("zendesk", "without_type", lambda: _zendesk_without("type"), "'type'"),
    ("zendesk", "without_detail", lambda: _zendesk_without("detail"), "'detail'"),
    ("zendesk", "lone_surrogate_in_type", lambda: _lone_surrogate("zendesk_type"), "surrogate"),
]


@pytest.mark.parametrize(("source", "case", "make_body", "problem"), MALFORMED,
                         ids=[f"{s}-{c}" for s, c, _, _ in MALFORMED])
def test_a_signed_but_malformed_body_is_refused_with_a_message_naming_the_problem(
        receiver: Receiver, r: redis.Redis, source: str, case: str,
        make_body: Callable[[], bytes], problem: str) -> None:
    body = make_body()
    sign = klaviyo_headers if source == "klaviyo" else zendesk_headers

    resp = receiver.client.post(f"/webhooks/{source}", data=body, headers=sign(body))

    assert resp.status_code == 400
    assert resp.is_json
    assert resp.json["error"] == "malformed"
    assert problem in resp.json["message"]
    assert nothing_kept_or_queued(r)
    assert receiver.store.outcomes.counters() == {f"{source}:rejected:malformed": 1}


# --- too large: 413 -------------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["klaviyo", "zendesk"])
def test_a_body_over_the_limit_is_refused_as_too_large(
        make_receiver: Callable[..., Receiver], r: redis.Redis, source: str) -> None:
    small = make_receiver(MAX_WEBHOOK_BYTES="2048")
    if source == "klaviyo":
        body = klaviyo_body([klaviyo_event(f"01JBIG{i}") for i in range(8)])
        headers = klaviyo_headers(body)
    else:
        doc = zendesk_event()
        doc["detail"]["description"] = "x" * 3000
        body = json.dumps(doc).encode()
        headers = zendesk_headers(body)
    assert len(body) > 2048

    resp = small.client.post(f"/webhooks/{source}", data=body, headers=headers)

    assert resp.status_code == 413
    assert resp.is_json and resp.json["error"] == "too_large"
    assert nothing_kept_or_queued(r)


def test_a_body_within_the_limit_is_accepted_by_the_same_receiver(
        make_receiver: Callable[..., Receiver]) -> None:
    small = make_receiver(MAX_WEBHOOK_BYTES="2048")
    body = klaviyo_body([klaviyo_event("01JSMALL")])
    assert len(body) <= 2048
    resp = small.client.post("/webhooks/klaviyo", data=body, headers=klaviyo_headers(body))
    assert resp.status_code == 202


def test_text_escaped_as_a_full_surrogate_pair_is_accepted(receiver: Receiver) -> None:
    body = klaviyo_body([klaviyo_event("01JEMOJI", text="thanks \U0001f600")])
    assert b"\\ud83d\\ude00" in body   # json.dumps escapes it as a pair
    resp = receiver.client.post("/webhooks/klaviyo", data=body, headers=klaviyo_headers(body))
    assert resp.status_code == 202
