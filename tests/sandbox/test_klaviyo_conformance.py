"""The Klaviyo sandbox against Klaviyo's own OpenAPI file (revision 2026-07-15).

For every endpoint the bridge uses, a request shaped as the bridge sends it must fit the spec,
and so must the sandbox's answer to it, successes and errors alike. Without this, the sandbox
could agree with the bridge on a shape that the real Klaviyo would never send or accept.
"""

from __future__ import annotations

from typing import Any

import pytest
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
)
from openapi_check import load_spec, validate_request, validate_response

env_once, env = sandbox_fixture()
SPEC = "klaviyo/openapi-stable.json"
SEED_IDS = [ALICE["id"], BOB["id"], CARLA["id"], "01JSANDBOXDANA00000000000",
            "01JSANDBOXEMIL00000000000"]
M2_PROPERTIES = {"Assignee_email": "ana@acme-shop.test", "Assignee_name": "Ana Agent",
                 "Channel": "sms", "Description": "Where is my parcel?", "Fields": {},
                 "Group_name": None, "Priority": None, "Subject": "SMS from +1••••0101",
                 "Tags": ["sms"], "Ticket_id": 5158, "Type": None, "Via": "api",
                 "Zendesk_url": "https://acme.zendesk.com/agent/tickets/5158", "Status": "new"}


@pytest.fixture(scope="module", autouse=True)
def spec_loaded() -> None:
    load_spec(SPEC)   # parse once, outside the timed tests


def call(env: Env, method: str, template: str, path: str, body: Any = None,
         **kw: Any) -> requests.Response:
    """Send (after checking the request body against the spec) and check the answer."""
    if body is not None:
        validate_request(SPEC, method, template, body)
        kw["json"] = body
    r = env.api(method, path, **kw)
    validate_response(SPEC, method, template, r.status_code, r.json() if r.content else b"")
    return r


def conversation_id(env: Env, profile_id: str, phone: str) -> str:
    env.admin("POST", "/_sandbox/klaviyo/inbound", json={"from": phone, "to": LONG_CODE,
                                                         "body": "hello"})
    r = call(env, "GET", "/api/profiles/{id}/conversations",
             f"/api/profiles/{profile_id}/conversations")
    return r.json()["data"][0]["id"]


def test_accounts_and_authentication_errors_conform(env: Env) -> None:
    assert call(env, "GET", "/api/accounts", "/api/accounts").status_code == 200
    r = call(env, "GET", "/api/accounts", "/api/accounts", headers={"revision": "2026-07-15"})
    assert r.status_code == 401
    no_revision = {k: v for k, v in HEADERS.items() if k != "revision"}
    assert call(env, "GET", "/api/accounts", "/api/accounts",
                headers=no_revision).status_code == 400


@pytest.mark.parametrize("profile_id", SEED_IDS)
def test_a_profile_with_subscriptions_conforms(env: Env, profile_id: str) -> None:
    r = call(env, "GET", "/api/profiles/{id}", f"/api/profiles/{profile_id}",
             params={"additional-fields[profile]": "subscriptions"})
    assert r.status_code == 200


def test_profile_lookups_and_their_errors_conform(env: Env) -> None:
    conversation_id(env, ALICE["id"], ALICE["phone"])
    for params in ({"filter": f'equals(phone_number,"{ALICE["phone"]}")',
                    "additional-fields[profile]": "subscriptions"},
                   {"filter": f'equals(email,"{ALICE["email"]}")', "include": "conversations"},
                   {"page[size]": "2"}):
        r = call(env, "GET", "/api/profiles", "/api/profiles", params=params)
        assert r.status_code == 200 and r.json()["data"]
    r = call(env, "GET", "/api/profiles/{id}", f"/api/profiles/{ALICE['id']}",
             params={"include": "conversations"})
    assert r.json()["included"][0]["type"] == "conversation"
    assert call(env, "GET", "/api/profiles", "/api/profiles",
                params={"filter": "equals(phone_number"}).status_code == 400
    assert call(env, "GET", "/api/profiles/{id}",
                "/api/profiles/01JNOSUCHPROFILE000000000").status_code == 404


def test_conversations_and_replies_conform(env: Env) -> None:
    empty = call(env, "GET", "/api/profiles/{id}/conversations",
                 f"/api/profiles/{BOB['id']}/conversations")
    assert empty.json()["data"] == []
    conv = conversation_id(env, BOB["id"], BOB["phone"])
    r = call(env, "POST", "/api/conversation-messages", "/api/conversation-messages",
             conversation_message(conv, "Your parcel ships today."))
    assert r.status_code == 202
    r = call(env, "POST", "/api/conversation-messages", "/api/conversation-messages",
             conversation_message("01JNOSUCHCONVERSATION0000", "Hi"))
    assert r.status_code == 404
    carla_conv = conversation_id(env, CARLA["id"], CARLA["phone"])
    r = call(env, "POST", "/api/conversation-messages", "/api/conversation-messages",
             conversation_message(carla_conv, "Hi"))
    assert r.status_code == 400


def test_events_as_the_bridge_sends_them_conform(env: Env) -> None:
    for profile, metric in (({"email": ALICE["email"]}, "Opened Ticket"),
                            ({"phone_number": BOB["phone"]}, "Resolved Ticket")):
        body = event(metric, profile, f"zendesk:5158:{metric}",
                     time="2026-11-25T10:12:07+00:00", properties=M2_PROPERTIES)
        assert call(env, "POST", "/api/events", "/api/events", body).status_code == 202
    agent_reply = event("Zendesk Agent Reply", {"phone_number": ALICE["phone"]}, "zendesk:991",
                        properties={"Message Body": "On its way!", "Ticket_id": 5158})
    assert call(env, "POST", "/api/events", "/api/events", agent_reply).status_code == 202
    bad = event("Opened Ticket", {"phone_number": "0101"})
    assert call(env, "POST", "/api/events", "/api/events", bad).status_code == 400


def test_a_bulk_job_conforms(env: Env) -> None:
    body = {"data": {"type": "event-bulk-create-job", "attributes": {"events-bulk-create": {
        "data": [{"type": "event-bulk-create", "attributes": {
            "profile": {"data": {"type": "profile", "attributes": {"email": ALICE["email"]}}},
            "events": {"data": [{"type": "event", "attributes": {
                "properties": dict(M2_PROPERTIES, Ticket_id=n), "unique_id": f"zendesk:{n}",
                "time": "2026-11-25T10:12:07+00:00",
                "metric": {"data": {"type": "metric", "attributes": {"name": "Opened Ticket"}}}}}
                for n in range(3)]}}}]}}}}
    r = call(env, "POST", "/api/event-bulk-create-jobs", "/api/event-bulk-create-jobs", body)
    assert r.status_code == 202


def test_reading_events_back_conforms(env: Env) -> None:
    env.admin("POST", "/_sandbox/klaviyo/inbound",
              json={"from": ALICE["phone"], "to": TOLL_FREE, "body": "hi",
                    "media_urls": ["https://example.com/a.png"]})
    call(env, "POST", "/api/events", "/api/events",
         event("Opened Ticket", {"email": ALICE["email"]}, "t1", value=9.5))
    everything = call(env, "GET", "/api/events", "/api/events", params={"page[size]": "1"})
    assert everything.json()["links"]["next"]
    metric = everything.json()["data"][0]["relationships"]["metric"]["data"]["id"]
    r = call(env, "GET", "/api/events", "/api/events",
             params={"filter": f'equals(metric_id,"{metric}")', "sort": "-datetime"})
    assert len(r.json()["data"]) == 1
    assert call(env, "GET", "/api/events", "/api/events",
                params={"filter": 'equals(name,"x")'}).status_code == 400


def test_received_sms_since_a_moment_conforms(env: Env) -> None:
    """A6's look-up: the `Received SMS` metric's id from GET /api/metrics, then the profile's
    events of that metric since a moment (filter on profile, metric and datetime)."""
    metrics = call(env, "GET", "/api/metrics", "/api/metrics")
    ids = {m["attributes"]["name"]: m["id"] for m in metrics.json()["data"]}
    env.admin("POST", "/_sandbox/klaviyo/inbound",
              json={"from": ALICE["phone"], "to": TOLL_FREE, "body": "hi"})
    events = call(env, "GET", "/api/events", "/api/events").json()["data"]
    profile = events[0]["relationships"]["profile"]["data"]["id"]
    when = events[0]["attributes"]["datetime"]
    found = call(env, "GET", "/api/events", "/api/events", params={
        "filter": f'and(equals(profile_id,"{profile}"),equals(metric_id,"{ids["Sent SMS"]}"),'
                  f"greater-or-equal(datetime,{when}))"}).json()["data"]
    assert [e["attributes"]["event_properties"]["Message Body"] for e in found] == ["hi"]
    later = call(env, "GET", "/api/events", "/api/events", params={
        "filter": f'and(equals(profile_id,"{profile}"),greater-than(datetime,{when}))'})
    assert later.json()["data"] == []
    assert call(env, "GET", "/api/events", "/api/events", params={
        "filter": "greater-than(datetime,yesterday)"}).status_code == 400


def test_throttling_and_server_errors_conform(env: Env) -> None:
    env.admin("POST", "/_sandbox/faults", json={"api": "klaviyo", "force_429": 1})
    assert call(env, "GET", "/api/accounts", "/api/accounts").status_code == 429
    env.admin("POST", "/_sandbox/faults", json={"api": "klaviyo", "force_409": 1})
    assert call(env, "POST", "/api/events", "/api/events",
                event("Opened Ticket", {"email": ALICE["email"]})).status_code == 409
    env.admin("POST", "/_sandbox/faults", json={"api": "klaviyo", "error_rate": 1.0})
    r = call(env, "GET", "/api/profiles/{id}", f"/api/profiles/{ALICE['id']}")
    assert r.status_code in (500, 503)
    env.admin("DELETE", "/_sandbox/faults", params={"api": "klaviyo"})
