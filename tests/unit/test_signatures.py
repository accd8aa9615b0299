"""Webhook signature checks (E4). Signatures are computed here, independently, from the vendors'
documented recipes (API-NOTES): Zendesk base64(HMAC-SHA256(secret, timestamp + body)), Klaviyo
lowercase hex HMAC-SHA256(secret, body + timestamp)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from bridge.payloads.signatures import SignatureError, verify_klaviyo, verify_zendesk

SECRET = "whsec-test-secret"
BODY = b'{"id":"01J8","type":"zen:event-type:ticket.created","detail":{"id":"5158"}}'
NOW = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


def zendesk_sig(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def klaviyo_sig(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def reason_zendesk(timestamp: str | None, signature: str | None, body: bytes = BODY) -> str:
    with pytest.raises(SignatureError) as err:
        verify_zendesk(SECRET, body, timestamp, signature, now=NOW.timestamp())
    return err.value.reason


def reason_klaviyo(timestamp: str | None, signature: str | None, body: bytes = BODY) -> str:
    with pytest.raises(SignatureError) as err:
        verify_klaviyo(SECRET, body, timestamp, signature, now=NOW.timestamp())
    return err.value.reason


# --- Zendesk --------------------------------------------------------------------------------

def test_zendesk_accepts_a_correctly_signed_delivery() -> None:
    ts = iso(NOW - timedelta(seconds=5))
    assert verify_zendesk(SECRET, BODY, ts, zendesk_sig(BODY, ts), now=NOW.timestamp()) is None


def test_zendesk_accepts_a_timestamp_with_fractional_seconds_and_an_offset() -> None:
    ts = "2026-11-25T11:00:01.250+01:00"
    assert verify_zendesk(SECRET, BODY, ts, zendesk_sig(BODY, ts), now=NOW.timestamp()) is None


def test_zendesk_accepts_timestamps_just_inside_the_tolerance_both_ways() -> None:
    for delta in (-299, 299):
        ts = iso(NOW + timedelta(seconds=delta))
        assert verify_zendesk(SECRET, BODY, ts, zendesk_sig(BODY, ts), now=NOW.timestamp()) is None


def test_zendesk_rejects_a_signature_made_with_another_secret() -> None:
    ts = iso(NOW)
    assert reason_zendesk(ts, zendesk_sig(BODY, ts, secret="other")) == "bad_signature"


def test_zendesk_rejects_a_body_changed_after_signing() -> None:
    ts = iso(NOW)
    assert reason_zendesk(ts, zendesk_sig(BODY, ts), body=BODY + b" ") == "bad_signature"


def test_zendesk_rejects_a_signature_for_another_timestamp() -> None:
    ts = iso(NOW)
    other = iso(NOW - timedelta(seconds=1))
    assert reason_zendesk(ts, zendesk_sig(BODY, other)) == "bad_signature"


@pytest.mark.parametrize("cut", [4, 8, 20])
def test_zendesk_rejects_a_truncated_signature(cut: int) -> None:
    ts = iso(NOW)
    assert reason_zendesk(ts, zendesk_sig(BODY, ts)[:-cut]) == "bad_signature"


def test_zendesk_rejects_a_stale_timestamp_even_when_correctly_signed() -> None:
    ts = iso(NOW - timedelta(seconds=301))
    assert reason_zendesk(ts, zendesk_sig(BODY, ts)) == "stale_timestamp"


def test_zendesk_rejects_a_future_timestamp_even_when_correctly_signed() -> None:
    ts = iso(NOW + timedelta(seconds=301))
    assert reason_zendesk(ts, zendesk_sig(BODY, ts)) == "future_timestamp"


@pytest.mark.parametrize(("timestamp", "signature"), [(None, "c2ln"), ("", "c2ln"),
                                                      ("2026-11-25T10:00:00Z", None),
                                                      ("2026-11-25T10:00:00Z", ""),
                                                      (None, None)])
def test_zendesk_rejects_missing_headers(timestamp: str | None, signature: str | None) -> None:
    assert reason_zendesk(timestamp, signature) == "missing_headers"


def test_zendesk_rejects_a_hex_signature_where_base64_is_expected() -> None:
    ts = iso(NOW)
    hex_sig = hmac.new(SECRET.encode(), ts.encode() + BODY, hashlib.sha256).hexdigest()
    assert reason_zendesk(ts, hex_sig) == "bad_signature"


def test_zendesk_rejects_a_signature_that_is_not_base64() -> None:
    ts = iso(NOW)
    assert reason_zendesk(ts, "not base64 at all!") == "bad_signature"


@pytest.mark.parametrize("timestamp", ["yesterday", "1764064800", "2026-13-45T99:00:00Z"])
def test_zendesk_rejects_a_garbage_timestamp(timestamp: str) -> None:
    assert reason_zendesk(timestamp, zendesk_sig(BODY, timestamp)) == "bad_timestamp"


# --- Klaviyo --------------------------------------------------------------------------------

def test_klaviyo_accepts_a_correctly_signed_delivery() -> None:
    ts = str(int(NOW.timestamp()) - 5)
    assert verify_klaviyo(SECRET, BODY, ts, klaviyo_sig(BODY, ts), now=NOW.timestamp()) is None


def test_klaviyo_accepts_an_uppercase_hex_signature() -> None:
    ts = str(int(NOW.timestamp()))
    signature = klaviyo_sig(BODY, ts).upper()
    assert verify_klaviyo(SECRET, BODY, ts, signature, now=NOW.timestamp()) is None


def test_klaviyo_rejects_a_signature_made_with_another_secret() -> None:
    ts = str(int(NOW.timestamp()))
    assert reason_klaviyo(ts, klaviyo_sig(BODY, ts, secret="other")) == "bad_signature"


def test_klaviyo_rejects_a_signature_over_timestamp_then_body() -> None:
    """The order is body + timestamp; the Zendesk order must not verify."""
    ts = str(int(NOW.timestamp()))
    swapped = hmac.new(SECRET.encode(), ts.encode() + BODY, hashlib.sha256).hexdigest()
    assert reason_klaviyo(ts, swapped) == "bad_signature"


def test_klaviyo_rejects_a_truncated_signature() -> None:
    ts = str(int(NOW.timestamp()))
    assert reason_klaviyo(ts, klaviyo_sig(BODY, ts)[:-2]) == "bad_signature"


def test_klaviyo_rejects_a_stale_timestamp_even_when_correctly_signed() -> None:
    ts = str(int(NOW.timestamp()) - 301)
    assert reason_klaviyo(ts, klaviyo_sig(BODY, ts)) == "stale_timestamp"


def test_klaviyo_rejects_a_future_timestamp_even_when_correctly_signed() -> None:
    ts = str(int(NOW.timestamp()) + 301)
    assert reason_klaviyo(ts, klaviyo_sig(BODY, ts)) == "future_timestamp"


@pytest.mark.parametrize(("timestamp", "signature"), [(None, "ab"), ("", "ab"),
                                                      ("1764064800", None), ("1764064800", "")])
def test_klaviyo_rejects_missing_headers(timestamp: str | None, signature: str | None) -> None:
    assert reason_klaviyo(timestamp, signature) == "missing_headers"


def test_klaviyo_rejects_a_base64_signature_where_hex_is_expected() -> None:
    ts = str(int(NOW.timestamp()))
    mac = hmac.new(SECRET.encode(), BODY + ts.encode(), hashlib.sha256).digest()
    assert reason_klaviyo(ts, base64.b64encode(mac).decode()) == "bad_signature"


@pytest.mark.parametrize("timestamp", ["yesterday", "2026-11-25T10:00:00Z", "nan", "inf"])
def test_klaviyo_rejects_a_garbage_timestamp(timestamp: str) -> None:
    """"nan" compares false to everything, so it must not slip past the tolerance check."""
    assert reason_klaviyo(timestamp, klaviyo_sig(BODY, timestamp)) == "bad_timestamp"
