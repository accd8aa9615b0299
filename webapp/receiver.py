"""The webhook views. Each does five things: read raw bytes, verify, keep the events, enqueue
their refs, answer 202 (E1, E4). It never calls Zendesk or Klaviyo.

Answers: 401 bad or stale signature, 400 malformed body (JSON naming the problem), 413 too
large, 503 + Retry-After when Redis cannot take the events (the sender retries), else 202.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from importlib.resources import files

import redis
from celery import Celery
from flask import Blueprint, Response, current_app, jsonify, request
from kombu.exceptions import OperationalError
from werkzeug.exceptions import RequestEntityTooLarge

from bridge.adapters.store import Store
from bridge.brands import brand_named, owns_number
from bridge.config import Settings
from bridge.domain.brand_scope import DEFAULT, scope
from bridge.domain.model import RawEvent
from bridge.payloads.envelopes import EnvelopeError, split_klaviyo, split_zendesk
from bridge.payloads.routes import queue_of
from bridge.payloads.signatures import (
    SignatureError,
    check_klaviyo_headers,
    check_zendesk_headers,
    verify_klaviyo,
    verify_zendesk,
)
from webapp.body import read_body
from webapp.screening import needing_work
from workers.queues import enqueue, task_for

log = logging.getLogger("zkbridge.receiver")
bp = Blueprint("receiver", __name__)
RETRY_AFTER_SECONDS = "5"


def _error(status: int, reason: str, message: str) -> Response:
    resp = jsonify({"error": reason, "message": message})
    resp.status_code = status
    if status == 503:
        resp.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return resp


def _receive(source: str, verify: Callable[[bytes], None],
             split: Callable[[bytes], list[RawEvent]]) -> Response:
    store: Store = current_app.extensions["zkb.store"]
    celery: Celery = current_app.extensions["zkb.celery"]
    try:
        body = read_body(request, current_app.config["MAX_CONTENT_LENGTH"])
    except RequestEntityTooLarge:
        _count(store, source, "rejected", "too_large")
        raise
    try:
        verify(body)
    except SignatureError as e:
        return _rejected(store, source, e)
    try:
        events = split(body)
    except EnvelopeError as e:
        return _malformed(store, source, e)
    try:
        to_do, repeats = needing_work(
            store, events, lambda: _owned_numbers(events[0].brand))
        new, unconfirmed = store.events.save_events(to_do, time.time(), route=queue_of)
        queued, unused = [], []
        for event in new + unconfirmed:
            task = task_for(event)
            if task is None:
                unused.append(event)
                continue
            enqueue(celery, task, event.ref, event.kind)
            queued.append(event.ref)
        replicas = store.events.settle_receipt(source, queued, unused, received=len(events))
    except (redis.RedisError, OperationalError) as e:
        log.error("cannot store or queue events", extra={"fields": {"source": source,
                                                                     "error": type(e).__name__}})
        return _error(503, "unavailable", "event store unavailable; retry later")
    if replicas < store.events.wait_replicas:   # REDIS_WAIT_REPLICAS (docs/scaling.md)
        return _not_replicated(store, source, replicas)
    resp = jsonify({"accepted": len(events), "queued": len(queued),
                    "duplicates": len(to_do) - len(new) + repeats})
    resp.status_code = 202
    return resp


def _malformed(store: Store, source: str, e: EnvelopeError) -> Response:
    _count(store, source, "rejected", "malformed")
    # The message names where the body is wrong, never what it holds (no PII to mask).
    log.warning("webhook rejected", extra={"fields": {"source": source, "status": 400,
                                                      "reason": "malformed", "problem": str(e)}})
    return _error(400, "malformed", str(e))


def _not_replicated(store: Store, source: str, replicas: int) -> Response:
    """Stored and queued on the primary, but no replica confirmed it within REDIS_WAIT_MS: a
    failover now could lose it, so it is not acknowledged (the vendor re-sends; a re-send of a
    known event is not queued twice)."""
    _count(store, source, "rejected", "not_replicated")
    log.error("events not replicated in time", extra={"fields": {"source": source,
                                                                  "replicas": replicas}})
    return _error(503, "not_replicated", "no Redis replica confirmed the events; retry later")


def _owned_numbers(brand: str) -> Callable[[str], bool] | None:
    """With several brands, a receipt counts only the brand's own tickets (E7, A7)."""
    brands = current_app.extensions["zkb.brands"]
    if len(brands) == 1:
        return None
    found = brand_named(brands, brand)
    return owns_number(brands, found) if found else None


def _rejected(store: Store, source: str, e: SignatureError) -> Response:
    _count(store, source, "rejected", e.reason)
    log.warning("webhook rejected", extra={"fields": {"source": source, "reason": e.reason}})
    return _error(401, e.reason, why_rejected(source, e.reason))


def why_rejected(source: str, reason: str) -> str:
    """What the sender (or whoever reads the 401) should check: the header or the setting by
    name, never a secret's value."""
    _, ts_header, sig_header, _, secret_field = VENDORS[source]
    secret_var = secret_field.removesuffix("s").upper()
    return {
        "missing_headers": f"both the {ts_header} and {sig_header} headers are required",
        "bad_timestamp": f"{ts_header} is not a timestamp the vendor would send",
        "stale_timestamp": f"{ts_header} is older than the tolerance: a late replay, or this "
                           "server's clock is behind (check NTP)",
        "future_timestamp": f"{ts_header} is in the future: this server's clock is behind "
                            "or the sender's ahead (check NTP)",
        "bad_signature": f"{sig_header} does not match the body signed with "
                         f"{secret_var}: check that it holds this webhook's signing secret "
                         "(during a rotation, both secrets comma-separated)",
    }.get(reason, "signature or timestamp check failed")


def _count(store: Store, source: str, outcome: str, reason: str) -> None:
    try:
        store.outcomes.count(source, outcome, reason)
    except redis.RedisError:
        pass


# Per vendor: its verifier, the headers carrying timestamp and signature, its envelope.
VENDORS = {
    "klaviyo": (verify_klaviyo, "Klaviyo-Timestamp", "Klaviyo-Signature", split_klaviyo,
                "klaviyo_webhook_secrets"),
    "zendesk": (verify_zendesk, "X-Zendesk-Webhook-Signature-Timestamp",
                "X-Zendesk-Webhook-Signature", split_zendesk, "zendesk_webhook_secrets"),
}


HEADER_CHECKS = {"klaviyo": check_klaviyo_headers, "zendesk": check_zendesk_headers}


@bp.post("/webhooks/<any(klaviyo, zendesk):source>")
def webhook(source: str) -> Response:
    """Zendesk's one webhook, and the default brand's Klaviyo webhook (today's path)."""
    settings: Settings = current_app.extensions["zkb.settings"]
    return _webhook(source, getattr(settings, VENDORS[source][4]), DEFAULT)


@bp.post("/webhooks/klaviyo/<name>")
def brand_webhook(name: str) -> Response:
    """A brand's Klaviyo webhook (E7): each Klaviyo account signs with its own secret, so
    brand A's route refuses a body signed with brand B's (401)."""
    brand = brand_named(current_app.extensions["zkb.brands"], name)
    if brand is None:
        return _error(404, "unknown_brand", f"no brand named {name[:40]!r} is configured "
                      "(BRANDS_FILE); the default brand's webhook is /webhooks/klaviyo")
    return _webhook("klaviyo", brand.klaviyo_webhook_secrets, brand.name)


def _webhook(source: str, secrets: tuple[str, ...], brand: str) -> Response:
    settings: Settings = current_app.extensions["zkb.settings"]
    verifier, ts_header, sig_header, split_body, _ = VENDORS[source]

    def verify(body: bytes) -> None:
        verifier(secrets, body, request.headers.get(ts_header),
                 request.headers.get(sig_header), time.time(),
                 settings.webhook_tolerance_seconds)

    def split(body: bytes) -> list[RawEvent]:
        events = split_body(body)
        return events if brand == DEFAULT else [replace(e, brand=brand) for e in events]

    with scope(brand):      # counted as the brand's (E7: /metrics and /ops by brand)
        try:   # before the body is read: unsigned or stale requests cost no read (issue 13)
            HEADER_CHECKS[source](request.headers.get(ts_header),
                                  request.headers.get(sig_header), time.time(),
                                  settings.webhook_tolerance_seconds)
        except SignatureError as e:
            return _rejected(current_app.extensions["zkb.store"], source, e)
        return _receive(source, verify, split)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    store: Store = current_app.extensions["zkb.store"]
    try:
        store.ping()
    except redis.RedisError:
        return _error(503, "redis_unreachable", "Redis does not answer")
    return jsonify({"status": "ready"})


@bp.get("/openapi.yaml")
def openapi() -> Response:
    """The OpenAPI 3.1 description of these endpoints (webapp/openapi.yaml)."""
    return Response(files("webapp").joinpath("openapi.yaml").read_bytes(),
                    mimetype="application/yaml")
