"""What the receiver writes to its logs while it accepts, refuses and fails: JSON lines with no
secret and no raw phone number or email (E5). Read from the real output path (the `zkbridge`
logger's stderr handler set up by create_app) and from everything else that logs (root)."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable

import pytest

from tests.integration.conftest import Receiver
from tests.integration.support import (
    CUSTOMER,
    CUSTOMER_EMAIL,
    KLAVIYO_SECRET,
    REDIS_PASSWORD,
    SECRETS,
    ZENDESK_SECRET,
    klaviyo_body,
    klaviyo_event,
    klaviyo_headers,
    zendesk_event,
    zendesk_headers,
)

E164 = re.compile(r"\+\d{7,15}")
SECOND_CUSTOMER = "+15005550199"


def exercise(receiver: Receiver, small: Receiver, down: Receiver, broker_down: Receiver) -> None:
    """Every kind of answer, with personal data in bodies and secrets in play."""
    texts = klaviyo_body([klaviyo_event("01JLOG1"),
                          klaviyo_event("01JLOG2", customer=SECOND_CUSTOMER, text=CUSTOMER),
                          klaviyo_event("01JLOG3", topic="event:klaviyo.opened_sms")])
    big = klaviyo_body([klaviyo_event(f"01JBIG{i}") for i in range(10)])
    zendesk = json.dumps(zendesk_event()).encode()
    calls = [
        (receiver, "/webhooks/klaviyo", texts, klaviyo_headers(texts), 202),
        (receiver, "/webhooks/klaviyo", texts, klaviyo_headers(texts), 202),          # duplicate
        (receiver, "/webhooks/zendesk", zendesk, zendesk_headers(zendesk), 202),
        (receiver, "/webhooks/klaviyo", texts,
         klaviyo_headers(texts, secret=ZENDESK_SECRET), 401),
        (receiver, "/webhooks/zendesk", zendesk,
         zendesk_headers(zendesk, secret=KLAVIYO_SECRET), 401),
        (receiver, "/webhooks/klaviyo", texts, klaviyo_headers(texts, at=time.time() - 900), 401),
        (receiver, "/webhooks/klaviyo", texts, {"Klaviyo-Signature": KLAVIYO_SECRET}, 401),
        (receiver, "/webhooks/klaviyo", f"not json {CUSTOMER} {CUSTOMER_EMAIL}".encode(),
         klaviyo_headers(f"not json {CUSTOMER} {CUSTOMER_EMAIL}".encode()), 400),
        (small, "/webhooks/klaviyo", big, klaviyo_headers(big), 413),
        (down, "/webhooks/klaviyo", texts, klaviyo_headers(texts), 503),
        (down, "/webhooks/zendesk", zendesk, zendesk_headers(zendesk), 503),
        (broker_down, "/webhooks/klaviyo", klaviyo_body([klaviyo_event("01JLOG9")]), None, 503),
    ]
    for app, path, body, headers, status in calls:
        resp = app.client.post(path, data=body, headers=headers or klaviyo_headers(body))
        assert resp.status_code == status, (path, resp.json)
    assert down.client.get("/readyz").status_code == 503


def test_log_lines_carry_no_secret_and_no_raw_phone_number_or_email(
        make_receiver: Callable[..., Receiver], closed_port: int,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    dead = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{closed_port}/0"
    receiver = make_receiver()
    small = make_receiver(MAX_WEBHOOK_BYTES="2048")
    down = make_receiver(redis_url=dead)
    broker_down = make_receiver(broker_url=dead)
    caplog.set_level(logging.DEBUG)   # libraries too (celery, kombu, redis, werkzeug)
    capsys.readouterr()

    exercise(receiver, small, down, broker_down)

    ours = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    records = [json.loads(line) for line in ours]       # every line is a JSON object
    assert {r["msg"] for r in records} >= {"webhook rejected", "cannot store or queue events"}
    assert {r.get("reason") for r in records} >= {"bad_signature", "stale_timestamp",
                                                  "missing_headers"}
    everything = "\n".join(ours) + "\n" + caplog.text
    for secret in SECRETS:
        assert secret not in everything
    for pii in (CUSTOMER, CUSTOMER.lstrip("+"), SECOND_CUSTOMER, CUSTOMER_EMAIL):
        assert pii not in everything
    for record in records:
        assert not E164.search(json.dumps({k: v for k, v in record.items() if k != "ts"}))


def test_a_400_is_logged_with_its_reason_and_the_problem_never_the_body(
        make_receiver: Callable[..., Receiver], capsys: pytest.CaptureFixture[str]) -> None:
    receiver = make_receiver()
    capsys.readouterr()
    for body in (f"not json {CUSTOMER}".encode(), b'{"data": []}'):
        resp = receiver.client.post("/webhooks/klaviyo", data=body, headers=klaviyo_headers(body))
        assert resp.status_code == 400
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.strip()]
    rejected = [r for r in lines if r["msg"] == "webhook rejected" and r.get("status") == 400]
    assert [(r["source"], r["reason"]) for r in rejected] == [("klaviyo", "malformed")] * 2
    assert rejected[0]["problem"].startswith("body is not valid JSON")
    assert rejected[1]["problem"] == "'data' holds no events"
    assert CUSTOMER not in json.dumps(rejected)
