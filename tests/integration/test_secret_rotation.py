"""Webhook secret rotation without loss: while two secrets are configured, deliveries signed
with either are accepted; once the old one is removed, only the new one is (401 with reason)."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.integration.conftest import Receiver
from tests.integration.support import (
    KLAVIYO_SECRET,
    ZENDESK_SECRET,
    klaviyo_body,
    klaviyo_event,
    klaviyo_headers,
    post,
    zendesk_event,
    zendesk_headers,
)

NEW_ZENDESK, NEW_KLAVIYO = "zendesk-rotated-secret-2", "klaviyo-rotated-secret-2"


def zendesk_delivery(receiver: Receiver, event_id: str, secret: str) -> tuple[int, dict]:
    body = json.dumps(zendesk_event(event_id)).encode()
    answer = post(receiver.client, "/webhooks/zendesk", body, zendesk_headers(body, secret=secret))
    return answer.status_code, answer.get_json()


def klaviyo_delivery(receiver: Receiver, event_id: str, secret: str) -> tuple[int, dict]:
    body = klaviyo_body([klaviyo_event(event_id)])
    answer = post(receiver.client, "/webhooks/klaviyo", body, klaviyo_headers(body, secret=secret))
    return answer.status_code, answer.get_json()


def test_during_a_rotation_both_secrets_are_accepted_for_both_vendors(
        make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver(ZENDESK_WEBHOOK_SECRET=f"{ZENDESK_SECRET},{NEW_ZENDESK}",
                             KLAVIYO_WEBHOOK_SECRET=f"{KLAVIYO_SECRET}, {NEW_KLAVIYO}")
    assert zendesk_delivery(receiver, "0d3b6f7e-0000-4e8e-9f1e-000000000001",
                            ZENDESK_SECRET)[0] == 202
    assert zendesk_delivery(receiver, "0d3b6f7e-0000-4e8e-9f1e-000000000002",
                            NEW_ZENDESK)[0] == 202
    assert klaviyo_delivery(receiver, "01JROTATE000000000000001", KLAVIYO_SECRET)[0] == 202
    assert klaviyo_delivery(receiver, "01JROTATE000000000000002", NEW_KLAVIYO)[0] == 202


def test_the_same_event_from_the_old_and_the_new_webhook_is_kept_once(
        make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver(ZENDESK_WEBHOOK_SECRET=f"{ZENDESK_SECRET},{NEW_ZENDESK}")
    event_id = "0d3b6f7e-0000-4e8e-9f1e-000000000003"
    first = zendesk_delivery(receiver, event_id, ZENDESK_SECRET)
    second = zendesk_delivery(receiver, event_id, NEW_ZENDESK)
    assert first == (202, {"accepted": 1, "queued": 1, "duplicates": 0})
    assert second == (202, {"accepted": 1, "queued": 0, "duplicates": 1})


def test_after_the_old_secret_is_removed_only_the_new_one_is_accepted(
        make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver(ZENDESK_WEBHOOK_SECRET=NEW_ZENDESK)
    status, body = zendesk_delivery(receiver, "0d3b6f7e-0000-4e8e-9f1e-000000000004",
                                    ZENDESK_SECRET)
    assert status == 401 and body["error"] == "bad_signature"
    assert zendesk_delivery(receiver, "0d3b6f7e-0000-4e8e-9f1e-000000000005",
                            NEW_ZENDESK)[0] == 202


def test_a_401_names_the_header_or_the_setting_to_check_never_the_secret(
        make_receiver: Callable[..., Receiver]) -> None:
    receiver = make_receiver()
    status, body = zendesk_delivery(receiver, "0d3b6f7e-0000-4e8e-9f1e-000000000006",
                                    "a-wrong-secret")
    assert (status, body["error"]) == (401, "bad_signature")
    assert "X-Zendesk-Webhook-Signature" in body["message"]
    assert "ZENDESK_WEBHOOK_SECRET" in body["message"] and ZENDESK_SECRET not in body["message"]
    unsigned = post(receiver.client, "/webhooks/klaviyo", klaviyo_body([]), {})
    assert unsigned.status_code == 401
    assert unsigned.get_json()["error"] == "missing_headers"
    assert "Klaviyo-Timestamp" in unsigned.get_json()["message"]
    assert "Klaviyo-Signature" in unsigned.get_json()["message"]
