"""The tests' own webhook signer and checker, written from the vendors' documented schemes
(docs: API-NOTES.md), never from bridge/payloads/signatures.py or the sandbox's signing code, so
that a mistake shared by both would still show.

- Klaviyo: `Klaviyo-Signature` = lowercase hex HMAC-SHA256(key=secret, msg=raw body +
  `Klaviyo-Timestamp`), the timestamp in Unix seconds.
- Zendesk: `X-Zendesk-Webhook-Signature` = base64 HMAC-SHA256(key=secret,
  msg=`X-Zendesk-Webhook-Signature-Timestamp` + raw body), the timestamp ISO 8601 UTC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import Message

KLAVIYO_TIMESTAMP, KLAVIYO_SIGNATURE = "Klaviyo-Timestamp", "Klaviyo-Signature"
ZENDESK_TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
ZENDESK_SIGNATURE = "X-Zendesk-Webhook-Signature"

Headers = Message | Mapping[str, str]


def klaviyo_signature(body: bytes, timestamp: str, secret: str) -> str:
    """Lowercase hex HMAC-SHA256(secret, body + timestamp)."""
    return hmac.new(secret.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def zendesk_signature(body: bytes, timestamp: str, secret: str) -> str:
    """base64 HMAC-SHA256(secret, timestamp + body)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def iso_utc(at: float) -> str:
    """Zendesk's signature timestamp: ISO 8601 UTC to the second."""
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def klaviyo_headers(body: bytes, secret: str, at: float | None = None) -> dict[str, str]:
    """The headers of a Klaviyo delivery signed as of `at` (default: now)."""
    timestamp = str(int(time.time() if at is None else at))
    return {KLAVIYO_TIMESTAMP: timestamp,
            KLAVIYO_SIGNATURE: klaviyo_signature(body, timestamp, secret),
            "Content-Type": "application/json"}


def zendesk_headers(body: bytes, secret: str, at: float | None = None) -> dict[str, str]:
    """The headers of a Zendesk delivery signed as of `at` (default: now)."""
    timestamp = iso_utc(time.time() if at is None else at)
    return {ZENDESK_TIMESTAMP: timestamp,
            ZENDESK_SIGNATURE: zendesk_signature(body, timestamp, secret),
            "Content-Type": "application/json"}


def klaviyo_signature_ok(headers: Headers, body: bytes, secret: str) -> bool:
    """Whether a received Klaviyo delivery carries a timestamp and the right signature."""
    stamp = headers.get(KLAVIYO_TIMESTAMP) or ""
    want = klaviyo_signature(body, stamp, secret)
    return bool(stamp) and hmac.compare_digest(want, headers.get(KLAVIYO_SIGNATURE) or "")


def zendesk_signature_ok(headers: Headers, body: bytes, secret: str) -> bool:
    """Whether a received Zendesk delivery carries a timestamp and the right signature."""
    stamp = headers.get(ZENDESK_TIMESTAMP) or ""
    want = zendesk_signature(body, stamp, secret)
    return bool(stamp) and hmac.compare_digest(want, headers.get(ZENDESK_SIGNATURE) or "")
