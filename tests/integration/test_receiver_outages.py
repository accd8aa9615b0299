"""When Redis is down the receiver says so with 503 + Retry-After, so the sender retries (E4, E1);
liveness stays up; every answer, even for a wrong URL or method, is JSON, never HTML, never 500."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.integration.conftest import Receiver
from tests.integration.support import (
    klaviyo_body,
    klaviyo_event,
    klaviyo_headers,
    zendesk_event,
    zendesk_headers,
)


@pytest.fixture
def redis_down(make_receiver: Callable[..., Receiver], closed_port: int) -> Receiver:
    """Settings, store and broker all pointing at a port nothing listens on."""
    return make_receiver(redis_url=f"redis://127.0.0.1:{closed_port}/0")


def signed(source: str) -> tuple[bytes, dict[str, str]]:
    if source == "klaviyo":
        body = klaviyo_body([klaviyo_event("01JDOWN")])
        return body, klaviyo_headers(body)
    body = json.dumps(zendesk_event()).encode()
    return body, zendesk_headers(body)


@pytest.mark.parametrize("source", ["klaviyo", "zendesk"])
def test_a_valid_delivery_while_redis_is_down_gets_503_with_retry_after(
        redis_down: Receiver, source: str) -> None:
    body, headers = signed(source)

    resp = redis_down.client.post(f"/webhooks/{source}", data=body, headers=headers)

    assert resp.status_code == 503
    assert int(resp.headers["Retry-After"]) > 0
    assert resp.is_json and resp.json["error"] == "unavailable"


def test_bad_signatures_and_bad_bodies_keep_their_own_answers_while_redis_is_down(
        redis_down: Receiver) -> None:
    body, headers = signed("klaviyo")
    forged = redis_down.client.post("/webhooks/klaviyo", data=body,
                                    headers={**headers, "Klaviyo-Signature": "0" * 64})
    broken = redis_down.client.post("/webhooks/klaviyo", data=b"[]",
                                    headers=klaviyo_headers(b"[]"))

    assert forged.status_code == 401 and forged.json["error"] == "bad_signature"
    assert broken.status_code == 400 and broken.json["error"] == "malformed"


def test_readiness_fails_while_redis_is_down_and_liveness_does_not(redis_down: Receiver) -> None:
    ready = redis_down.client.get("/readyz")
    alive = redis_down.client.get("/healthz")

    assert ready.status_code == 503 and ready.is_json and ready.headers["Retry-After"]
    assert alive.status_code == 200 and alive.json == {"status": "ok"}


def test_readiness_and_liveness_pass_with_redis_up(receiver: Receiver) -> None:
    assert receiver.client.get("/readyz").status_code == 200
    assert receiver.client.get("/healthz").status_code == 200


def test_an_unknown_route_is_a_json_404(receiver: Receiver) -> None:
    resp = receiver.client.post("/webhooks/shopify", data=b"{}")

    assert resp.status_code == 404
    assert resp.is_json and resp.json["error"] == "not_found"
    assert b"<html" not in resp.data.lower()


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("source", ["klaviyo", "zendesk"])
def test_a_webhook_url_with_the_wrong_method_is_a_json_405(
        receiver: Receiver, source: str, method: str) -> None:
    resp = receiver.client.open(f"/webhooks/{source}", method=method)

    assert resp.status_code == 405
    assert resp.is_json and resp.json["error"] == "method_not_allowed"
    assert b"<html" not in resp.data.lower()
