"""Webhook signature checks for both vendors (E4), written from the vendors' documentation.

One error type with a machine reason (it feeds the rejection counter), constant-time compares,
and a timestamp tolerance that rejects old *and* future timestamps (replays and clock games).
The sandbox signs with its own, separate implementation on purpose (see STYLE.md #13).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
from collections.abc import Sequence
from datetime import UTC, datetime


class SignatureError(Exception):
    """Rejected delivery; `reason` is one of missing_headers, bad_timestamp, stale_timestamp,
    future_timestamp, bad_signature."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _check_age(sent: float, now: float, tolerance: int) -> None:
    if sent < now - tolerance:
        raise SignatureError("stale_timestamp")
    if sent > now + tolerance:
        raise SignatureError("future_timestamp")


def _secrets(secrets: str | Sequence[str]) -> tuple[str, ...]:
    """One secret, or several while one is being rotated out (each is tried)."""
    return (secrets,) if isinstance(secrets, str) else tuple(secrets)


def _matches_any(given: bytes, expected: list[bytes]) -> bool:
    """Constant time per secret, and every secret is tried (no early exit)."""
    found = False
    for candidate in expected:
        found |= hmac.compare_digest(given, candidate)
    return found


def check_zendesk_headers(timestamp: str | None, signature: str | None, now: float,
                          tolerance: int = 300) -> None:
    """What can be checked before reading the body: both headers there, the timestamp fresh.
    The receiver calls it first, so an unsigned or stale request never costs a body read."""
    if not timestamp or not signature:
        raise SignatureError("missing_headers")
    try:
        sent = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError as e:
        raise SignatureError("bad_timestamp") from e
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    _check_age(sent.timestamp(), now, tolerance)


def check_klaviyo_headers(timestamp: str | None, signature: str | None, now: float,
                          tolerance: int = 300) -> None:
    """Klaviyo's half of `check_zendesk_headers`: headers there, unix-seconds timestamp fresh."""
    if not timestamp or not signature:
        raise SignatureError("missing_headers")
    try:
        sent = float(timestamp.strip())
    except ValueError as e:
        raise SignatureError("bad_timestamp") from e
    if not math.isfinite(sent):  # "nan" would pass every comparison in _check_age
        raise SignatureError("bad_timestamp")
    _check_age(sent, now, tolerance)


def verify_zendesk(secrets: str | Sequence[str], body: bytes, timestamp: str | None,
                   signature: str | None, now: float, tolerance: int = 300) -> None:
    """Zendesk: base64(HMAC-SHA256(secret, timestamp + body)); timestamp is ISO-8601 UTC."""
    check_zendesk_headers(timestamp, signature, now, tolerance)
    assert timestamp and signature
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        raise SignatureError("bad_signature") from e
    expected = [hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
                for secret in _secrets(secrets)]
    if not _matches_any(given, expected):
        raise SignatureError("bad_signature")


def verify_klaviyo(secrets: str | Sequence[str], body: bytes, timestamp: str | None,
                   signature: str | None, now: float, tolerance: int = 300) -> None:
    """Klaviyo: lowercase hex HMAC-SHA256(secret, body + timestamp); timestamp in unix seconds.

    The unix-seconds format is an assumption (API-NOTES); it is parsed here and nowhere else.
    """
    check_klaviyo_headers(timestamp, signature, now, tolerance)
    assert timestamp and signature
    expected = [hmac.new(secret.encode(), body + timestamp.encode(), hashlib.sha256)
                .hexdigest().encode() for secret in _secrets(secrets)]
    if not _matches_any(signature.strip().lower().encode(), expected):
        raise SignatureError("bad_signature")
