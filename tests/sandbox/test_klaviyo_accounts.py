"""A second Klaviyo account in the sandbox (rule E7, #16: several brands, one Zendesk).

Two API keys are two accounts, each with its own profiles, brand numbers, events, rate-limit
buckets and system webhook (URL, secret, webhook id, account id). Bolt's Alice shares Acme's
Alice's phone under a different profile. Deliveries are checked with the test's own HMAC
(tests/support/signing.py); calls that name no account still mean the first one, as before.
"""

from __future__ import annotations

from typing import Any

import requests
from klaviyo_support import (
    ALICE,
    API_KEY,
    HEADERS,
    SECRET,
    TOLL_FREE,
    Capture,
    Env,
    conversation_message,
    sandbox_fixture,
    signature_ok,
)

from sandbox.config import SandboxConfig

BOLT_KEY = "pk_test_bolt_key"
BOLT_SECRET = "test-bolt-webhook-secret"
BOLT_HEADERS = {**HEADERS, "Authorization": f"Klaviyo-API-Key {BOLT_KEY}"}
BOLT_ALICE = "01JSANDBOXBOLTALICE000000"
BOLT_FINN = "01JSANDBOXBOLTFINN0000000"
BOLT_TOLL_FREE = "+18005550200"


def two_accounts(capture: Capture) -> SandboxConfig:
    return SandboxConfig(klaviyo_api_key=API_KEY, klaviyo_webhook_url=f"{capture.url}/acme",
                         klaviyo_webhook_secret=SECRET, klaviyo2_api_key=BOLT_KEY,
                         klaviyo2_webhook_url=f"{capture.url}/bolt",
                         klaviyo2_webhook_secret=BOLT_SECRET, production_limits=False)


env_once, env = sandbox_fixture(config=two_accounts)


def bolt(env: Env, method: str, path: str, **kw: Any) -> requests.Response:
    return env.api(method, path, headers=BOLT_HEADERS, **kw)


def ids(response: requests.Response) -> set[str]:
    assert response.ok, response.text
    return {item["id"] for item in response.json()["data"]}


def text(env: Env, phone: str, to: str, body: str) -> dict[str, Any]:
    return env.admin("POST", "/_sandbox/klaviyo/inbound",
                     json={"from": phone, "to": to, "body": body})


def test_each_key_is_its_own_account_with_its_own_profiles(env: Env) -> None:
    acme, bolt_ids = ids(env.api("GET", "/api/profiles")), ids(bolt(env, "GET", "/api/profiles"))
    assert ALICE["id"] in acme and BOLT_ALICE not in acme
    assert bolt_ids == {BOLT_ALICE, BOLT_FINN}
    assert ids(env.api("GET", "/api/accounts")) == {"SbxAcm"}
    assert ids(bolt(env, "GET", "/api/accounts")) == {"SbxBlt"}
    wrong = dict(HEADERS, Authorization="Klaviyo-API-Key pk_nobody")
    assert env.api("GET", "/api/profiles", headers=wrong).status_code == 401


def test_one_phone_is_a_different_profile_in_each_account(env: Env) -> None:
    params = {"filter": f'equals(phone_number,"{ALICE["phone"]}")'}
    assert ids(env.api("GET", "/api/profiles", params=params)) == {ALICE["id"]}
    assert ids(bolt(env, "GET", "/api/profiles", params=params)) == {BOLT_ALICE}


def test_a_text_to_bolts_number_goes_to_bolts_webhook_signed_with_bolts_secret(env: Env) -> None:
    sent = text(env, ALICE["phone"], BOLT_TOLL_FREE, "Where is my bike?")
    (hook,) = env.capture.wait_for(1)
    assert hook.path == "/bolt"
    assert signature_ok(hook.headers, hook.body, BOLT_SECRET)
    assert not signature_ok(hook.headers, hook.body, SECRET)   # Acme's secret does not pass
    assert hook.headers["Klaviyo-Webhook-Id"] == "01JSANDBOXBOLTWEBHOOK00000"
    doc = hook.json
    assert doc["meta"]["klaviyo_account_id"] == "SbxBlt"
    (item,) = doc["data"]
    assert item["payload"]["relationships"]["profile"]["data"]["id"] == BOLT_ALICE
    assert item["payload"]["attributes"]["event_properties"]["To Number"] == BOLT_TOLL_FREE
    assert ids(bolt(env, "GET", "/api/events")) == {sent["event_id"]}
    assert ids(env.api("GET", "/api/events")) == set()        # Acme saw nothing


def test_the_same_phone_texting_acme_reaches_acmes_webhook_as_acmes_alice(env: Env) -> None:
    text(env, ALICE["phone"], TOLL_FREE, "Hello Acme")
    (hook,) = env.capture.wait_for(1)
    assert hook.path == "/acme" and signature_ok(hook.headers, hook.body, SECRET)
    assert hook.json["meta"]["klaviyo_account_id"] == "SbxAcm"
    profile = hook.json["data"][0]["payload"]["relationships"]["profile"]["data"]["id"]
    assert profile == ALICE["id"]
    assert ids(bolt(env, "GET", "/api/events")) == set()


def test_a_reply_goes_out_of_its_own_account_from_its_own_number(env: Env) -> None:
    text(env, ALICE["phone"], BOLT_TOLL_FREE, "Hi Bolt")
    convs = env.admin("GET", "/_sandbox/klaviyo/conversations?account=bolt")
    (conv,) = convs
    assert conv["profile_id"] == BOLT_ALICE and conv["brand_number"] == BOLT_TOLL_FREE
    body = conversation_message(conv["id"], "Your bike ships today")
    assert env.api("POST", "/api/conversation-messages", json=body).status_code == 404
    assert bolt(env, "POST", "/api/conversation-messages", json=body).status_code == 202
    sms = env.admin("GET", "/_sandbox/klaviyo/sms",
                    params={"account": "bolt", "phone": ALICE["phone"]})
    assert [(s["direction"], s["brand_number"]) for s in sms] == [
        ("to_brand", BOLT_TOLL_FREE), ("to_customer", BOLT_TOLL_FREE)]
    assert env.admin("GET", "/_sandbox/klaviyo/sms", params={"phone": ALICE["phone"]}) == []


def test_each_account_has_its_own_rate_limits(env: Env) -> None:
    env.admin("POST", "/_sandbox/limits", json={"bucket": "klaviyo:accounts",
                                                "windows": [[1, 60]]})
    assert env.api("GET", "/api/accounts").status_code == 200
    assert env.api("GET", "/api/accounts").status_code == 429
    assert bolt(env, "GET", "/api/accounts").status_code == 200   # Bolt's bucket is its own
    env.admin("POST", "/_sandbox/limits", json={"bucket": "klaviyo:accounts@bolt",
                                                "windows": [[0, 60]]})
    assert bolt(env, "GET", "/api/accounts").status_code == 429


def test_admin_routes_pick_the_account_by_name_number_or_profile(env: Env) -> None:
    profiles = env.admin("GET", "/_sandbox/klaviyo/profiles?account=bolt")
    assert {p["id"] for p in profiles} == {BOLT_ALICE, BOLT_FINN}
    assert ALICE["id"] in {p["id"] for p in env.admin("GET", "/_sandbox/klaviyo/profiles")}
    settings = env.admin("GET", "/_sandbox/klaviyo/settings?account=bolt")
    assert settings["account"] == "bolt" and BOLT_TOLL_FREE in settings["brand_numbers"]
    assert TOLL_FREE not in settings["brand_numbers"]
    r = env.admin_raw("GET", "/_sandbox/klaviyo/profiles?account=nope")
    assert r.status_code == 404 and "bolt" in r.json()["error"]
    env.admin("POST", f"/_sandbox/klaviyo/profiles/{BOLT_FINN}/consent",
              json={"sms_marketing": "UNSUBSCRIBED"})
    finn = next(p for p in profiles if p["id"] == BOLT_FINN)
    assert finn["sms_marketing"] == "SUBSCRIBED"
    after = env.admin("GET", "/_sandbox/klaviyo/profiles?account=bolt")
    assert next(p for p in after if p["id"] == BOLT_FINN)["sms_marketing"] == "UNSUBSCRIBED"


def test_a_batch_and_a_campaign_from_bolts_numbers_stay_in_bolts_account(env: Env) -> None:
    batch = env.admin("POST", "/_sandbox/klaviyo/inbound/batch", json={"messages": [
        {"from": "+15005550106", "to": BOLT_TOLL_FREE, "body": "one"},
        {"from": "+15005550106", "to": "54321", "body": "two"}]})
    sent = env.admin("POST", "/_sandbox/klaviyo/campaign",
                     json={"to": ALICE["phone"], "from": BOLT_TOLL_FREE, "body": "Spring sale"})
    hooks = env.capture.wait_for(2)
    assert {h.path for h in hooks} == {"/bolt"}
    assert all(signature_ok(h.headers, h.body, BOLT_SECRET) for h in hooks)
    assert ids(bolt(env, "GET", "/api/events")) == {*batch["event_ids"], sent["event_id"]}
    mixed = env.admin_raw("POST", "/_sandbox/klaviyo/inbound/batch", json={"messages": [
        {"from": "+15005550106", "to": BOLT_TOLL_FREE, "body": "one"},
        {"from": "+15005550106", "to": TOLL_FREE, "body": "two"}]})
    assert mixed.status_code == 400 and "messages[1]" in mixed.json()["error"]


def test_the_second_accounts_webhook_is_configured_at_run_time(env: Env) -> None:
    cfg = env.admin("POST", "/_sandbox/config", json={"klaviyo2_webhook_url": None})
    assert cfg["klaviyo2_webhook_url"] is None
    assert text(env, ALICE["phone"], BOLT_TOLL_FREE, "anyone?")["delivery_id"] is None
    env.admin("POST", "/_sandbox/config", json={
        "klaviyo2_webhook_url": f"{env.capture.url}/bolt", "klaviyo2_webhook_secret": "rotated"})
    text(env, ALICE["phone"], BOLT_TOLL_FREE, "now?")
    (hook,) = env.capture.wait_for(1)
    assert signature_ok(hook.headers, hook.body, "rotated")
    env.admin("POST", "/_sandbox/config", json={"klaviyo2_webhook_secret": BOLT_SECRET})


def test_a_whatsapp_message_to_bolts_number_is_bolts(env: Env) -> None:
    sent = env.admin("POST", "/_sandbox/klaviyo/whatsapp/inbound",
                     json={"from": ALICE["phone"], "to": BOLT_TOLL_FREE, "body": "WhatsApp hi"})
    (hook,) = env.capture.wait_for(1)
    assert hook.path == "/bolt" and signature_ok(hook.headers, hook.body, BOLT_SECRET)
    assert ids(bolt(env, "GET", "/api/events")) == {sent["event_id"]}
    convs = env.admin("GET", "/_sandbox/klaviyo/whatsapp/conversations?account=bolt")
    assert [c["profile_id"] for c in convs] == [BOLT_ALICE]
    assert env.admin("GET", "/_sandbox/klaviyo/whatsapp/conversations") == []
    aged = env.admin_raw("POST", "/_sandbox/klaviyo/whatsapp/age",
                         json={"phone": ALICE["phone"], "hours": 25})
    assert aged.status_code == 404                     # acme's Alice wrote no WhatsApp
    env.admin("POST", "/_sandbox/klaviyo/whatsapp/age?account=bolt",
              json={"phone": ALICE["phone"], "hours": 25})
    nope = env.admin_raw("POST", "/_sandbox/klaviyo/whatsapp/age?account=nope", json={})
    assert nope.status_code == 404 and "bolt" in nope.json()["error"]


def test_the_phone_and_events_pages_show_the_account_they_are_asked_for(env: Env) -> None:
    acme = env.admin_raw("GET", "/phone").text
    page = env.admin_raw("GET", "/phone", params={"account": "bolt"}).text
    assert 'data-account="acme"' in acme and TOLL_FREE in acme and BOLT_TOLL_FREE not in acme
    assert 'data-account="bolt"' in page and BOLT_TOLL_FREE in page and TOLL_FREE not in page
    assert BOLT_FINN in page and BOLT_ALICE in page and ALICE["id"] not in page
    assert 'href="/phone?account=bolt"' in acme            # the shop picker
    assert 'data-account="bolt"' in env.admin_raw("GET", "/events?account=bolt").text
    assert env.admin_raw("GET", "/phone", params={"account": "nope"}).status_code == 404
