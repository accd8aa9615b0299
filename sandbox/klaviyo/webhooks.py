"""Klaviyo system webhooks: `event:klaviyo.sent_sms` / `event:klaviyo.received_sms` deliveries.

Written from Klaviyo's documentation (docs/API-NOTES.md), never from the bridge's verifier: a
signing helper shared by both sides would let a wrong implementation pass its own tests.

- Headers: `Klaviyo-Webhook-Id` (the webhook's id, the same on every delivery [assumed]),
  `Klaviyo-Timestamp` (unix seconds as a string [assumed]) and `Klaviyo-Signature` = lowercase
  hex HMAC-SHA256(key=secret, msg=raw body + timestamp) [seen].
- Retries [assumed]: 5xx, 429, timeouts and connection errors are retried with a short
  exponential backoff (0.25 s, 0.5 s, 1 s, 2 s; a 429's `Retry-After` up to 5 s is honoured),
  at most 5 attempts in all; any other 4xx drops the delivery. With the account setting
  `retry_after_on_503` a 503's `Retry-After` is honoured the same way (the receiver answers
  503 + `Retry-After: 5` while Redis is away: a sender that honours it re-sends 5 s late).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import requests

from sandbox.klaviyo.state import Event, KlaviyoState
from sandbox.seed import ACME, SeedAccount

WEBHOOK_ID = ACME.webhook_id       # the first account's; each account has its own (seed)
REVISION = "2026-07-15"
SENT_SMS_TOPIC = "event:klaviyo.sent_sms"          # the profile (customer) sent an SMS
RECEIVED_SMS_TOPIC = "event:klaviyo.received_sms"  # the profile received one from the brand
MAX_ATTEMPTS = 5


def signature(secret: str, body: bytes, timestamp: str) -> str:
    return hmac.new(secret.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None,
                   webhook_id: str = WEBHOOK_ID) -> dict[str, str]:
    ts = str(int(time.time() if now is None else now))
    return {"Content-Type": "application/json", "Klaviyo-Webhook-Id": webhook_id,
            "Klaviyo-Timestamp": ts, "Klaviyo-Signature": signature(secret, body, ts)}


def retry_policy(resp: requests.Response | None, exc: BaseException | None,
                 attempt: int, honoured: tuple[int, ...] = (429,)) -> float | None:
    """Seconds before the next attempt, or None to drop (see module docstring). `honoured`:
    the statuses whose `Retry-After` is followed."""
    if attempt >= MAX_ATTEMPTS:
        return None
    if resp is not None and 400 <= resp.status_code < 500 and resp.status_code != 429:
        return None
    backoff = 0.25 * 2 ** (attempt - 1)
    if resp is not None and resp.status_code in honoured:
        try:
            return min(max(float(resp.headers.get("Retry-After", backoff)), backoff), 5.0)
        except ValueError:
            return backoff
    return backoff


def retry_policy_503(resp: requests.Response | None, exc: BaseException | None,
                     attempt: int) -> float | None:
    """`retry_policy` that also follows a 503's `Retry-After` (setting `retry_after_on_503`)."""
    return retry_policy(resp, exc, attempt, honoured=(429, 503))


def entry(topic: str, ev: Event) -> dict[str, Any]:
    return {"external_id": ev.id, "topic": topic,
            "payload": {"type": "event", "id": ev.id,
                        "attributes": {"timestamp": ev.timestamp, "datetime": ev.datetime,
                                       "uuid": ev.uuid, "event_properties": ev.properties},
                        "relationships": {
                            "profile": {"data": {"type": "profile", "id": ev.profile_id}},
                            "metric": {"data": {"type": "metric", "id": ev.metric_id}}}}}


def body(entries: Sequence[tuple[str, Event]], seeded: SeedAccount = ACME) -> bytes:
    doc = {"data": [entry(topic, ev) for topic, ev in entries],
           "meta": {"klaviyo_webhook_id": seeded.webhook_id,
                    "klaviyo_account_id": seeded.account_id,
                    "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
                    "version": REVISION}}
    return json.dumps(doc).encode()


def deliver(sb: Any, entries: Sequence[tuple[str, Event]],
            account: KlaviyoState | None = None) -> int | None:
    """Queue one delivery of `entries` (order kept) to the URL configured for `account` (the
    first account when None), signed with its secret; its id, or None when that account has no
    webhook URL."""
    state = account or sb.klaviyo
    url = state.credentials()[1]
    if not url or not entries:
        return None
    raw = body(entries, state.account)

    def sign(b: bytes) -> dict[str, str]:   # run by the outbox before every attempt
        return signed_headers(state.credentials()[2], b, webhook_id=state.account.webhook_id)

    policy = retry_policy_503 if state.retry_after_on_503 else retry_policy
    d = sb.outbox.send("klaviyo", url, sign(raw), raw, policy, sign=sign)
    return int(d.id)
