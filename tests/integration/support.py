"""What the receiver integration tests share: the tests' own webhook signer (tests/support/
signing.py, written from API-NOTES, not from bridge/payloads/signatures.py) with this suite's
secrets, delivery builders, and a reader for the Celery messages kombu leaves in the Redis
lists."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from flask.testing import FlaskClient

from tests.support import signing
from tests.support.signing import iso_utc as iso_utc  # re-exported for the tests

KLAVIYO_SECRET = "it-klaviyo-webhook-secret-5f2c"
ZENDESK_SECRET = "it-zendesk-webhook-secret-9a1e"
KLAVIYO_API_KEY = "pk_it_klaviyo_api_key_77d0"
ZENDESK_API_TOKEN = "it-zendesk-api-token-3b8f"
REDIS_PASSWORD = "it-redis-password-c4e9"
SECRETS = (KLAVIYO_SECRET, ZENDESK_SECRET, KLAVIYO_API_KEY, ZENDESK_API_TOKEN, REDIS_PASSWORD)

SENT_SMS = "event:klaviyo.sent_sms"
RECEIVED_SMS = "event:klaviyo.received_sms"
BRAND = "+18005550100"          # toll-free brand number the customers text
CUSTOMER = "+15005550101"
CUSTOMER_EMAIL = "ana.customer@example.com"
INTERACTIVE_QUEUE = "zkb.interactive"   # customer texts, agent replies (workers/queues.py)
BACKGROUND_QUEUE = "zkb.background"     # campaign notes, ticket created/status changed
KLAVIYO_QUEUE = INTERACTIVE_QUEUE        # where texts go (the name of the lane before #11)
ZENDESK_QUEUE = BACKGROUND_QUEUE         # where ticket.created goes (likewise)


# --- signing (tests/support/signing.py, with this suite's secrets) ------------------------------

def klaviyo_signature(body: bytes, timestamp: str, secret: str = KLAVIYO_SECRET) -> str:
    return signing.klaviyo_signature(body, timestamp, secret)


def zendesk_signature(body: bytes, timestamp: str, secret: str = ZENDESK_SECRET) -> str:
    return signing.zendesk_signature(body, timestamp, secret)


def klaviyo_headers(body: bytes, at: float | None = None,
                    secret: str = KLAVIYO_SECRET) -> dict[str, str]:
    return {**signing.klaviyo_headers(body, secret, at), "Klaviyo-Webhook-Id": "wh_it_01"}


def zendesk_headers(body: bytes, at: float | None = None,
                    secret: str = ZENDESK_SECRET) -> dict[str, str]:
    return signing.zendesk_headers(body, secret, at)


# --- deliveries ---------------------------------------------------------------------------------

def klaviyo_event(event_id: str, *, topic: str = SENT_SMS, customer: str = CUSTOMER,
                  brand: str = BRAND, sent_at: float = 1764064327.0,
                  text: str = "Where is my order?") -> dict[str, Any]:
    """One item of a Klaviyo system-webhook delivery, shaped as API-NOTES documents it."""
    return {"external_id": event_id, "topic": topic,
            "payload": {"type": "event", "id": event_id,
                        "attributes": {
                            "timestamp": int(sent_at),
                            "datetime": datetime.fromtimestamp(sent_at, tz=UTC).isoformat(),
                            "uuid": f"uuid-{event_id}",
                            "event_properties": {"Message Body": text, "To Number": brand,
                                                 "From Number": customer,
                                                 "Email": CUSTOMER_EMAIL}},
                        "relationships": {
                            "profile": {"data": {"type": "profile", "id": "01JPROFILE" + event_id}},
                            "metric": {"data": {"type": "metric", "id": "MSENT"}}}}}


def klaviyo_body(items: list[dict[str, Any]]) -> bytes:
    return json.dumps({"data": items, "meta": {"klaviyo_webhook_id": "wh_it_01",
                                               "klaviyo_account_id": "ACC1",
                                               "version": "2026-07-15"}}).encode()


def zendesk_event(event_id: str = "0d3b6f7e-1c5a-4e8e-9f1e-2b7c3d4e5f60",
                  kind: str = "zen:event-type:ticket.created") -> dict[str, Any]:
    return {"id": event_id, "type": kind, "subject": "zen:ticket:5158",
            "time": "2026-11-25T10:12:07.672717030Z", "zendesk_event_version": "2022-11-06",
            "account_id": 22129848,
            "detail": {"id": "5158", "status": "NEW", "priority": "LOW", "type": "TASK",
                       "requester_id": "84473", "subject": f"SMS from {CUSTOMER}",
                       "description": f"call me on {CUSTOMER} or {CUSTOMER_EMAIL}",
                       "tags": ["sms"], "via": {"channel": "web_service"}},
            "event": {}}


# --- what the receiver left in Redis ------------------------------------------------------------

@dataclass(frozen=True)
class QueuedTask:
    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    headers: dict[str, Any]
    raw: str           # the message as stored, and its decoded body, for PII checks
    body: str


def queued(r: redis.Redis, queue: str) -> list[QueuedTask]:
    """Messages waiting in a kombu Redis queue, oldest publish first (kombu LPUSHes)."""
    out = []
    for raw in reversed(r.lrange(queue, 0, -1)):
        message = json.loads(raw)
        if (message["properties"]["body_encoding"], message["content-type"]) != (
                "base64", "application/json"):
            raise RuntimeError(f"not a kombu JSON message in {queue}: {raw[:200]!r}")
        body = base64.b64decode(message["body"]).decode()
        args, kwargs, _embed = json.loads(body)
        out.append(QueuedTask(message["headers"]["task"], args, kwargs, message["headers"],
                              raw.decode(), body))
    return out


def event_keys(r: redis.Redis) -> list[str]:
    return sorted(k.decode() for k in r.scan_iter(match="zkb:ev:*"))


def nothing_kept_or_queued(r: redis.Redis) -> bool:
    return (not event_keys(r) and r.llen(KLAVIYO_QUEUE) == 0 and r.llen(ZENDESK_QUEUE) == 0
            and not list(r.scan_iter(match="zkb:convq:*")) and r.zcard("zkb:unqueued") == 0)


def post(client: FlaskClient, path: str, body: bytes, headers: dict[str, str]):  # noqa: ANN201
    return client.post(path, data=body, headers=headers)
