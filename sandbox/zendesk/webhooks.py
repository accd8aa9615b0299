"""Zendesk event-subscription webhooks: payloads, signing, and Zendesk's retry rules.

Written from Zendesk's documentation (see docs/API-NOTES.md), never shared with `bridge/`: the
bridge's verifier must be checked against an independent signer. One event per delivery; the
signature is recomputed on every attempt because Zendesk signs at send time. Events go to the
webhooks created through the Webhooks API (`webhook_api.py`) when there are any, else to
the admin-configured URL (`targets`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from sandbox.zendesk.model import Ticket, TicketEvent, iso
from sandbox.zendesk.state import ZendeskState
from sandbox.zendesk.webhook_api import Webhook

ACCOUNT_ID = 22129848
EVENT_VERSION = "2022-11-06"
WEBHOOK_ID = "01JSANDBOXZENDESKWEBHOOK01"
MAX_ATTEMPTS = 5
MAX_WAIT = 3.0      # seconds; Zendesk waits longer, the sandbox keeps tests fast

# Ticket via channels as event subscriptions name them [assumed: "api" -> "web_service"].
EVENT_CHANNELS = {"api": "web_service", "web": "web_form"}


def _sid(value: int | None) -> str | None:
    return None if value is None else str(value)


def _upper(value: str | None) -> str | None:
    return None if value is None else value.upper()


def event_time(ts: float) -> str:
    """ISO-8601 with nanoseconds and Z, like `2026-11-25T10:12:07.672717030Z`."""
    ns = int(round(ts * 1e9))
    return datetime.fromtimestamp(ns // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%S") + \
        f".{ns % 10**9:09d}Z"


def detail(ticket: Ticket, actor_id: int) -> dict[str, Any]:
    """The `detail` object: ids as strings, enums upper-case [doc+seen]."""
    return {"id": str(ticket.id), "status": _upper(ticket.status),
            "priority": _upper(ticket.priority), "type": _upper(ticket.type),
            "requester_id": str(ticket.requester_id), "submitter_id": str(ticket.submitter_id),
            "assignee_id": _sid(ticket.assignee_id), "group_id": _sid(ticket.group_id),
            "brand_id": str(ticket.brand_id), "organization_id": None, "form_id": None,
            "subject": ticket.subject, "description": ticket.description,
            "tags": list(ticket.tags), "is_public": any(c.public for c in ticket.comments),
            "via": {"channel": EVENT_CHANNELS.get(ticket.via["channel"],
                                                  ticket.via["channel"])},
            "created_at": iso(ticket.created_at), "updated_at": iso(ticket.updated_at),
            "external_id": ticket.external_id, "actor_id": str(actor_id)}


def payload(state: ZendeskState, ev: TicketEvent) -> dict[str, Any]:
    ticket = state.tickets[ev.ticket_id]
    event: dict[str, Any] = {}
    if ev.kind == "ticket.comment_added":
        c = next(c for c in ticket.comments if c.id == ev.comment_id)
        author = state.users[c.author_id]
        # `attachments` in the event is assumed (the bridge reads it in one place).
        event = {"comment": {"id": str(c.id), "body": c.body, "html_body": c.html_body,
                             "is_public": c.public,
                             "attachments": [{"file_name": a.get("file_name"),
                                              "content_url": a.get("content_url")}
                                             for a in c.attachments],
                             "author": {"id": str(author.id), "is_staff": author.is_staff,
                                        "name": author.name}}}
    elif ev.kind == "ticket.status_changed":
        event = {"previous": _upper(ev.previous), "current": _upper(ev.current)}
    elif ev.kind == "ticket.tags_changed":
        # Zendesk's documentation names the event but shows no payload for it: the tags after
        # the change are in `detail.tags` [doc]; this event object is [assumed].
        event = {"tags_added": list(ev.tags_added), "tags_removed": list(ev.tags_removed)}
    return {"id": str(uuid.uuid4()), "type": f"zen:event-type:{ev.kind}",
            "subject": f"zen:ticket:{ticket.id}", "time": event_time(state.now()),
            "zendesk_event_version": EVENT_VERSION, "account_id": ACCOUNT_ID,
            "detail": detail(ticket, ev.actor_id), "event": event}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(key=secret, msg=timestamp + raw body)) [doc]."""
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def make_signer(secret: Callable[[], str]) -> Callable[[bytes], dict[str, str]]:
    """A per-attempt signer; `secret()` is read at send time (rotations apply to retries)."""
    def sign(body: bytes) -> dict[str, str]:
        ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"X-Zendesk-Webhook-Signature-Timestamp": ts,
                "X-Zendesk-Webhook-Signature": signature(secret(), ts, body)}
    return sign


@dataclass(frozen=True)
class Target:
    """Where one event goes: URL, webhook id header, secret reader and extra headers."""

    url: str
    webhook_id: str
    secret: Callable[[], str]
    headers: dict[str, str]


def targets(sb: Any, kind: str) -> list[Target]:
    """Active webhooks created through the Webhooks API with event subscriptions take over
    from the configured URL: each gets the events it subscribes to, signed with its own
    secret. With none, everything goes to `zendesk_webhook_url` as before [sandbox choice]."""
    hooks = [h for h in sb.zendesk.webhooks.values() if h.status == "active" and h.event_types()]
    if not hooks:
        url = sb.config.zendesk_webhook_url
        return [Target(url, WEBHOOK_ID, lambda: sb.config.zendesk_webhook_secret, {})] \
            if url else []

    def reader(hook: Webhook) -> Callable[[], str]:
        return lambda: (sb.zendesk.webhooks.get(hook.id) or hook).secret

    return [Target(h.endpoint, h.id, reader(h), h.delivery_headers())
            for h in hooks if kind in h.event_types()]


def retry_policy(resp: requests.Response | None, exc: BaseException | None,
                 attempt: int) -> float | None:
    """Zendesk retries on 409, on 429/503 with Retry-After < 60 s, and on timeouts [seen]."""
    if attempt >= MAX_ATTEMPTS:
        return None
    backoff = min(0.2 * 2 ** (attempt - 1), MAX_WAIT)
    if resp is None:
        return backoff if isinstance(exc, requests.Timeout | requests.ConnectionError) else None
    if resp.status_code == 409:
        return backoff
    if resp.status_code in (429, 503):
        try:
            wait = float(resp.headers.get("Retry-After", ""))
        except ValueError:
            return None
        return min(max(wait, 0.0), MAX_WAIT) if wait < 60 else None
    return None


def publish(sb: Any, events: list[TicketEvent]) -> None:
    """Queue one delivery per event and target (never blocks the API call). The same event
    (same `id`) goes to every webhook subscribed to it. No target: no-op."""
    for ev in events:
        found = targets(sb, ev.kind)
        if not found:
            continue
        body = json.dumps(payload(sb.zendesk, ev)).encode()
        for target in found:
            headers = {"Content-Type": "application/json", "User-Agent": "Zendesk Webhook",
                       **target.headers, "X-Zendesk-Webhook-Id": target.webhook_id,
                       "X-Zendesk-Webhook-Invocation-Id": str(uuid.uuid4().int >> 80)}
            sb.outbox.send("zendesk", target.url, headers, body, retry_policy,
                           sign=make_signer(target.secret))
