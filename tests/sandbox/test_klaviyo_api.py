"""The sandbox's Klaviyo REST API over real HTTP, as the bridge calls it.

Covers what the bridge depends on (API-NOTES.md, Klaviyo section): authentication and revision
checks, profile lookup with SMS consent, the one SMS conversation per profile, conversation
replies, events with `unique_id` de-duplication, bulk jobs, rate-limit windows and faults.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from klaviyo_support import (
    ALICE,
    BOB,
    CARLA,
    HEADERS,
    LONG_CODE,
    TOLL_FREE,
    Env,
    conversation_message,
    event,
    sandbox_fixture,
    signature_ok,
)
from openapi_check import validate_request

env_once, env = sandbox_fixture()


def errors_of(r: requests.Response, status: int) -> list[dict[str, Any]]:
    assert r.status_code == status, r.text
    errs = r.json()["errors"]
    assert errs and all({"id", "status", "code", "title", "detail"} <= set(e) for e in errs)
    assert all(e["status"] == status for e in errs)
    return errs


def text(env: Env, phone: str, brand: str, body: str) -> dict[str, Any]:
    return env.admin("POST", "/_sandbox/klaviyo/inbound",
                     json={"from": phone, "to": brand, "body": body})


def conversations(env: Env, profile_id: str) -> list[dict[str, Any]]:
    r = env.api("GET", f"/api/profiles/{profile_id}/conversations")
    assert r.status_code == 200, r.text
    return r.json()["data"]


def stored(env: Env, metric: str) -> list[dict[str, Any]]:
    return env.admin("GET", "/_sandbox/klaviyo/events", params={"metric": metric})


def start_of_fresh_window(seconds: float) -> None:
    """Sleep to just after a fixed-window boundary so a burst cannot straddle two windows."""
    time.sleep(seconds - time.time() % seconds + 0.02)


# ---- authentication and revision ---------------------------------------------------------

def test_a_call_without_a_key_or_with_a_wrong_one_is_refused_with_401(env: Env) -> None:
    no_key = {"revision": "2026-07-15"}
    (err,) = errors_of(env.api("GET", "/api/accounts", headers=no_key), 401)
    assert err["code"] == "not_authenticated"
    for auth in ("Klaviyo-API-Key pk_wrong", "Bearer some-oauth-token", "pk_test_klaviyo_key"):
        (err,) = errors_of(env.api("GET", f"/api/profiles/{ALICE['id']}",
                                   headers={**no_key, "Authorization": auth}), 401)
        assert err["code"] == "authentication_failed"


def test_a_call_without_a_valid_revision_header_is_refused_with_400(env: Env) -> None:
    for revision in (None, "July 2026", "2026-13-40", "2026-07-15.pre!"):
        headers = {k: v for k, v in HEADERS.items() if k != "revision"}
        if revision is not None:
            headers["revision"] = revision
        (err,) = errors_of(env.api("GET", "/api/accounts", headers=headers), 400)
        assert err["source"] == {"parameter": "revision"}
    ok = env.api("GET", "/api/accounts", headers={**HEADERS, "revision": "2026-07-15.pre"})
    assert ok.status_code == 200


def test_zendesk_paths_are_left_to_zendesk(env: Env) -> None:
    r = requests.get(f"{env.base}/api/v2/users/me", timeout=10)
    assert "application/vnd.api+json" not in r.headers.get("Content-Type", "")


def test_accounts_answers_the_credential_check_as_json_api(env: Env) -> None:
    r = env.api("GET", "/api/accounts")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/vnd.api+json"
    (account,) = r.json()["data"]
    assert account["type"] == "account" and account["id"]


# ---- profiles ----------------------------------------------------------------------------

def test_a_profile_by_id_carries_sms_consent_only_when_asked(env: Env) -> None:
    plain = env.api("GET", f"/api/profiles/{ALICE['id']}").json()["data"]
    assert plain["attributes"]["phone_number"] == ALICE["phone"]
    assert "subscriptions" not in plain["attributes"]
    r = env.api("GET", f"/api/profiles/{BOB['id']}",
                params={"additional-fields[profile]": "subscriptions"})
    sms = r.json()["data"]["attributes"]["subscriptions"]["sms"]
    assert sms["marketing"]["can_receive_sms_marketing"] is True
    assert sms["marketing"]["consent"] == "SUBSCRIBED"
    assert sms["transactional"]["can_receive_sms_transactional"] is False
    assert sms["transactional"]["consent"] == "NEVER_SUBSCRIBED"
    (err,) = errors_of(env.api("GET", "/api/profiles/01JNOSUCHPROFILE000000000"), 404)
    assert err["code"] == "not_found"


def test_profiles_are_found_by_phone_or_email_filter(env: Env) -> None:
    params = {"filter": f'equals(phone_number,"{CARLA["phone"]}")',
              "additional-fields[profile]": "subscriptions"}
    (carla,) = env.api("GET", "/api/profiles", params=params).json()["data"]  # `+` sent as %2B
    assert carla["id"] == CARLA["id"]
    marketing = carla["attributes"]["subscriptions"]["sms"]["marketing"]
    assert (marketing["consent"], marketing["can_receive_sms_marketing"]) == ("UNSUBSCRIBED",
                                                                              False)
    (alice,) = env.api("GET", "/api/profiles",
                       params={"filter": f"equals(email,'{ALICE['email']}')"}).json()["data"]
    assert alice["id"] == ALICE["id"]
    none = env.api("GET", "/api/profiles", params={"filter": 'equals(phone_number,"+15550000000")'})
    assert none.json()["data"] == []


def test_a_malformed_or_unsupported_filter_is_a_400(env: Env) -> None:
    for bad in ('equals(phone_number,"+15005550101"', "phone_number=+15005550101",
                'equals(first_name,"Alice")', 'greater-than(phone_number,"1")'):
        (err,) = errors_of(env.api("GET", "/api/profiles", params={"filter": bad}), 400)
        assert err["source"] == {"parameter": "filter"}


# ---- conversations and replies -----------------------------------------------------------

def test_a_profile_has_one_sms_conversation_once_the_customer_has_texted(env: Env) -> None:
    assert conversations(env, ALICE["id"]) == []
    text(env, ALICE["phone"], LONG_CODE, "Hello?")
    (first,) = conversations(env, ALICE["id"])
    assert first["type"] == "conversation" and first["attributes"] == {"channel": "sms"}
    assert first["relationships"]["profile"]["data"] == {"type": "profile", "id": ALICE["id"]}
    text(env, ALICE["phone"], TOLL_FREE, "Anyone there?")
    (again,) = conversations(env, ALICE["id"])
    assert again["id"] == first["id"]


def test_a_reply_texts_the_customer_from_the_number_they_last_texted(env: Env) -> None:
    text(env, ALICE["phone"], LONG_CODE, "First")
    text(env, ALICE["phone"], TOLL_FREE, "Second")
    env.capture.wait_for(2)
    env.capture.clear()
    (conv,) = conversations(env, ALICE["id"])

    r = env.api("POST", "/api/conversation-messages",
                json=conversation_message(conv["id"], "We are on it."))
    assert (r.status_code, r.content) == (202, b"")

    sent = env.admin("GET", "/_sandbox/klaviyo/sms", params={"phone": ALICE["phone"]})[-1]
    assert {k: sent[k] for k in ("direction", "phone", "brand_number", "body", "source")} == {
        "direction": "to_customer", "phone": ALICE["phone"], "brand_number": TOLL_FREE,
        "body": "We are on it.", "source": "conversation"}
    (hook,) = env.capture.wait_for(1)
    assert signature_ok(hook.headers, hook.body)
    (item,) = hook.json["data"]
    assert item["topic"] == "event:klaviyo.received_sms"
    assert item["payload"]["attributes"]["event_properties"] == {
        "Message Body": "We are on it.", "From Number": TOLL_FREE, "To Number": ALICE["phone"]}
    assert item["payload"]["id"] == sent["event_id"]


def test_a_reply_is_refused_for_an_unknown_conversation_or_a_bad_body(env: Env) -> None:
    (err,) = errors_of(env.api("POST", "/api/conversation-messages",
                               json=conversation_message("01JNOSUCHCONVERSATION0000", "Hi")), 404)
    assert err["code"] == "not_found"
    text(env, ALICE["phone"], LONG_CODE, "Hi")
    (conv,) = conversations(env, ALICE["id"])
    no_body = conversation_message(conv["id"], "")
    errors_of(env.api("POST", "/api/conversation-messages", json=no_body), 400)
    errors_of(env.api("POST", "/api/conversation-messages", data=b"{not json"), 400)


def test_a_reply_to_a_customer_who_cannot_receive_sms_is_refused(env: Env) -> None:
    text(env, CARLA["phone"], LONG_CODE, "Where is my refund?")  # Carla: unsubscribed
    (conv,) = conversations(env, CARLA["id"])
    r = env.api("POST", "/api/conversation-messages", json=conversation_message(conv["id"], "Hi"))
    (err,) = errors_of(r, 400)
    assert "cannot receive SMS" in err["detail"]
    log = env.admin("GET", "/_sandbox/klaviyo/sms", params={"phone": CARLA["phone"]})
    assert [m["direction"] for m in log] == ["to_brand"]


def test_without_conversations_access_the_conversations_api_answers_403(env: Env) -> None:
    env.admin("POST", "/_sandbox/klaviyo/settings", json={"conversations_enabled": False})
    errors_of(env.api("GET", f"/api/profiles/{ALICE['id']}/conversations"), 403)
    r = env.api("POST", "/api/conversation-messages", json=conversation_message("x", "Hi"))
    errors_of(r, 403)


# ---- events ------------------------------------------------------------------------------

def test_an_event_is_accepted_with_an_empty_202_and_read_back(env: Env) -> None:
    body = event("Opened Ticket", {"email": ALICE["email"]}, "zendesk:1:opened",
                 time="2026-11-25T10:12:07+00:00", properties={"Ticket_id": 1, "Subject": "Hi"})
    r = env.api("POST", "/api/events", json=body)
    assert (r.status_code, r.content) == (202, b"")
    everything = env.api("GET", "/api/events").json()["data"]
    (ev,) = [e for e in everything if e["attributes"]["event_properties"].get("Ticket_id") == 1]
    assert ev["relationships"]["profile"]["data"]["id"] == ALICE["id"]
    assert ev["attributes"]["datetime"].startswith("2026-11-25T10:12:07")
    assert ev["attributes"]["event_properties"]["Subject"] == "Hi"
    metric_id = ev["relationships"]["metric"]["data"]["id"]
    text(env, ALICE["phone"], LONG_CODE, "Not an Opened Ticket event")
    filtered = env.api("GET", "/api/events",
                       params={"filter": f'equals(metric_id,"{metric_id}")'}).json()["data"]
    assert [e["id"] for e in filtered] == [ev["id"]]


def test_a_unique_id_is_stored_once_per_profile_and_metric(env: Env) -> None:
    for metric, profile in [("Opened Ticket", {"email": ALICE["email"]}),
                            ("Opened Ticket", {"email": ALICE["email"]}),       # repeat
                            ("Opened Ticket", {"phone_number": ALICE["phone"]}),  # same profile
                            ("Resolved Ticket", {"email": ALICE["email"]}),     # other metric
                            ("Opened Ticket", {"phone_number": BOB["phone"]})]:  # other profile
        r = env.api("POST", "/api/events", json=event(metric, profile, "ticket-7"))
        assert r.status_code == 202
    opened = stored(env, "Opened Ticket")
    assert sorted(e["profile_id"] for e in opened) == sorted([ALICE["id"], BOB["id"]])
    assert len(stored(env, "Resolved Ticket")) == 1


def test_an_event_for_an_unknown_email_creates_a_never_subscribed_profile(env: Env) -> None:
    r = env.api("POST", "/api/events", json=event("Opened Ticket", {"email": "new@example.com"},
                                                  backfill=True))
    assert r.status_code == 202
    (ev,) = stored(env, "Opened Ticket")
    assert ev["backfill"] is True
    (p,) = env.api("GET", "/api/profiles", params={
        "filter": 'equals(email,"new@example.com")',
        "additional-fields[profile]": "subscriptions"}).json()["data"]
    assert p["id"] == ev["profile_id"]
    assert p["attributes"]["subscriptions"]["sms"]["marketing"]["consent"] == "NEVER_SUBSCRIBED"


def test_an_invalid_event_is_a_400_naming_the_field(env: Env) -> None:
    no_metric = event("x", {"email": ALICE["email"]})
    del no_metric["data"]["attributes"]["metric"]
    cases = [(no_metric, "/data/attributes/metric/data/attributes/name"),
             (event("Opened Ticket", {"phone_number": "555-0101"}),
              "/data/attributes/profile/data"),
             (event("Opened Ticket", {"email": ALICE["email"]}, time="yesterday"),
              "/data/attributes/time"),
             ({"data": {"type": "profile"}}, "/data/type")]
    for body, pointer in cases:
        (err,) = errors_of(env.api("POST", "/api/events", json=body), 400)
        assert err["source"]["pointer"] == pointer
    assert stored(env, "Opened Ticket") == []


def bulk(groups: list[tuple[dict[str, Any], list[str]]]) -> dict[str, Any]:
    """A bulk job: per profile (attributes), events given by their unique ids."""
    return {"data": {"type": "event-bulk-create-job", "attributes": {"events-bulk-create": {
        "data": [{"type": "event-bulk-create", "attributes": {
            "profile": {"data": {"type": "profile", "attributes": profile}},
            "events": {"data": [{"type": "event", "attributes": {
                "properties": {"n": uid}, "unique_id": uid,
                "metric": {"data": {"type": "metric", "attributes": {"name": "Opened Ticket"}}}}}
                for uid in uids]}}}
            for profile, uids in groups]}}}}


def test_a_bulk_job_stores_its_events_with_the_same_dedup_rule(env: Env) -> None:
    job = bulk([({"email": ALICE["email"]}, ["a", "b", "a"]), ({"phone_number": BOB["phone"]},
                                                             ["a"])])
    r = env.api("POST", "/api/event-bulk-create-jobs", json=job)
    assert r.status_code == 202, r.text
    got = sorted((e["profile_id"], e["unique_id"]) for e in stored(env, "Opened Ticket"))
    assert got == sorted([(ALICE["id"], "a"), (ALICE["id"], "b"), (BOB["id"], "a")])


def test_profile_properties_inside_an_event_are_set_on_the_profile(env: Env) -> None:
    """M5: custom properties in an event's (or a bulk group's) profile object update the stored
    profile key by key, the last event processed winning; the bodies fit Klaviyo's spec."""
    def properties() -> dict[str, Any]:
        return env.api("GET", f"/api/profiles/{ALICE['id']}").json()["data"]["attributes"][
            "properties"]
    one = event("Opened Ticket", {"email": ALICE["email"],
                                  "properties": {"Open support tickets": 1, "Tier": "gold"}})
    validate_request("klaviyo/openapi-stable.json", "POST", "/api/events", one)
    assert env.api("POST", "/api/events", json=one).status_code == 202
    assert properties()["Open support tickets"] == 1
    job = bulk([({"phone_number": ALICE["phone"], "properties": {"Open support tickets": 0}},
                 ["z"])])
    validate_request("klaviyo/openapi-stable.json", "POST", "/api/event-bulk-create-jobs", job)
    assert env.api("POST", "/api/event-bulk-create-jobs", json=job).status_code == 202
    assert properties()["Open support tickets"] == 0 and properties()["Tier"] == "gold"


def test_a_bulk_job_takes_at_most_1000_events(env: Env) -> None:
    too_many = bulk([({"email": ALICE["email"]}, [str(i) for i in range(600)]),
                     ({"email": "x@example.com"}, [str(i) for i in range(401)])])
    (err,) = errors_of(env.api("POST", "/api/event-bulk-create-jobs", json=too_many), 400)
    assert "1000" in err["detail"]
    assert stored(env, "Opened Ticket") == []
    just_enough = bulk([({"email": ALICE["email"]}, [str(i) for i in range(1000)])])
    assert env.api("POST", "/api/event-bulk-create-jobs", json=just_enough).status_code == 202
    assert len(stored(env, "Opened Ticket")) == 1000


def test_events_are_read_back_page_by_page_oldest_first(env: Env) -> None:
    for i in range(5):
        env.api("POST", "/api/events", json=event("Opened Ticket", {"email": ALICE["email"]},
                                                  properties={"i": i}))
    seen: list[int] = []
    r = env.api("GET", "/api/events", params={"page[size]": 2})
    while True:
        body = r.json()
        seen += [e["attributes"]["event_properties"]["i"] for e in body["data"]]
        if "next" not in body["links"]:
            break
        r = env.api("GET", body["links"]["next"].removeprefix(env.base))
    assert seen == [0, 1, 2, 3, 4]


def test_a_profiles_events_of_one_metric_are_read_newest_first(env: Env) -> None:
    """The read behind A9's context (`and(equals(profile_id,..),equals(metric_id,..))`,
    `-datetime`): only that profile's events of that metric, newest first."""
    for i, who in enumerate([ALICE, BOB, ALICE, ALICE]):
        env.api("POST", "/api/events", json=event("Opened Ticket", {"phone_number": who["phone"]},
                                                  properties={"i": i}))
    env.api("POST", "/api/events", json=event("Resolved Ticket", {"email": ALICE["email"]},
                                              properties={"i": 9}))
    metrics = {m["attributes"]["name"]: m["id"]
               for m in env.api("GET", "/api/metrics").json()["data"]}
    assert {"Opened Ticket", "Resolved Ticket", "Received SMS", "Sent SMS"} <= set(metrics)
    opened = metrics["Opened Ticket"]
    wanted = f'and(equals(profile_id,"{ALICE["id"]}"),equals(metric_id,"{opened}"))'
    r = env.api("GET", "/api/events", params={"filter": wanted, "sort": "-datetime"})
    assert [e["attributes"]["event_properties"]["i"] for e in r.json()["data"]] == [3, 2, 0]
    nobody = env.api("GET", "/api/events", params={"filter": 'equals(profile_id,"01NOBODY")'})
    assert nobody.status_code == 200 and nobody.json()["data"] == []


# ---- rate limits and faults --------------------------------------------------------------

def test_a_burst_over_the_window_is_throttled_with_retry_after_then_recovers(env: Env) -> None:
    env.admin("POST", "/_sandbox/limits",
              json={"bucket": "klaviyo:profiles", "windows": [[2, 2], [100, 60]]})
    start_of_fresh_window(2)
    path = f"/api/profiles/{ALICE['id']}"
    assert [env.api("GET", path).status_code for _ in range(2)] == [200, 200]
    r = env.api("GET", path)
    (err,) = errors_of(r, 429)
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= 2
    assert err["code"] == "throttled" and err["title"] == "Request was throttled."
    assert err["detail"] == f"Request was throttled. Expected available in {wait} seconds."
    r = env.api("POST", "/api/events", json=event("Opened Ticket", {"email": ALICE["email"]}))
    assert r.status_code == 202    # another endpoint, another bucket
    time.sleep(wait)
    assert env.api("GET", path).status_code == 200
    assert env.admin("GET", "/_sandbox/calls")["throttled"]["klaviyo"] >= 1


def test_the_steady_window_throttles_with_a_longer_retry_after(env: Env) -> None:
    env.admin("POST", "/_sandbox/limits",
              json={"bucket": "klaviyo:conversation-messages", "windows": [[100, 1], [2, 60]]})
    text(env, ALICE["phone"], LONG_CODE, "Hi")
    (conv,) = conversations(env, ALICE["id"])
    if time.time() % 60 > 57:   # keep the burst inside one minute window
        start_of_fresh_window(60)
    codes = [env.api("POST", "/api/conversation-messages",
                     json=conversation_message(conv["id"], f"reply {i}")).status_code
             for i in range(3)]
    assert codes == [202, 202, 429]
    r = env.api("POST", "/api/conversation-messages", json=conversation_message(conv["id"], "y"))
    errors_of(r, 429)
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    sent = [m for m in env.admin("GET", "/_sandbox/klaviyo/sms") if m["direction"] == "to_customer"]
    assert len(sent) == codes.count(202)   # a refused reply sends nothing


def test_injected_faults_answer_429_409_5xx_and_504(env: Env) -> None:
    path = f"/api/profiles/{ALICE['id']}"
    env.admin("POST", "/_sandbox/faults", json={"api": "klaviyo", "force_429": 2, "retry_after": 7})
    for _ in range(2):
        r = env.api("GET", path)
        errors_of(r, 429)
        assert r.headers["Retry-After"] == "7"
    assert env.api("GET", path).status_code == 200
    env.admin("POST", "/_sandbox/faults", json={"api": "klaviyo", "force_409": 1})
    (err,) = errors_of(env.api("GET", path), 409)
    assert err["code"] == "conflict"
    env.admin("POST", "/_sandbox/faults", json={"api": "klaviyo", "error_rate": 1.0})
    r = env.api("GET", path)
    assert r.status_code in (500, 503) and r.json()["errors"]
    env.admin("POST", "/_sandbox/faults", json={"api": "klaviyo", "error_rate": 0.0,
                                               "timeout_rate": 1.0, "timeout_seconds": 0.1})
    errors_of(env.api("GET", path), 504)
    env.admin("DELETE", "/_sandbox/faults", params={"api": "klaviyo"})
    assert env.api("GET", path).status_code == 200
    calls = env.admin("GET", "/_sandbox/calls")["calls"]
    assert calls["klaviyo GET /api/profiles/{id}"] == 7


def test_an_applied_timeout_sends_the_reply_then_answers_504(env: Env) -> None:
    """The case the bridge cannot tell from a lost call: the SMS went out, the answer did not."""
    text(env, ALICE["phone"], LONG_CODE, "Hi")
    (conv,) = conversations(env, ALICE["id"])
    env.admin("POST", "/_sandbox/faults", json={"api": "klaviyo", "applied_timeout_rate": 1.0,
                                               "timeout_seconds": 0.1})
    r = env.api("POST", "/api/conversation-messages",
                json=conversation_message(conv["id"], "sent, answer lost"))
    (err,) = errors_of(r, 504)
    assert err["code"] == "gateway_timeout"
    env.admin("DELETE", "/_sandbox/faults", params={"api": "klaviyo"})
    sent = [m["body"] for m in env.admin("GET", "/_sandbox/klaviyo/sms")
            if m["direction"] == "to_customer"]
    assert sent == ["sent, answer lost"]
