"""The sandbox's Klaviyo Webhooks API (sandbox/klaviyo/webhook_api.py) against Klaviyo's own
OpenAPI file (revision 2026-07-15), over HTTP: every request sent here that the spec should
accept is checked against its request schema, and every answer, successes and refusals alike,
against the response the spec documents for its status. Then what the file says in words:
the secret is written and never shown, the endpoint is shown truncated, an account's webhooks
are its own, and an account without Advanced KDP is refused (#16, rule E7)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from sandbox.app import Sandbox
from sandbox.config import SandboxConfig
from tests.sandbox.klaviyo_support import (
    API_KEY,
    HEADERS,
    Env,
    two_accounts_fixture,
)
from tests.sandbox.openapi_check import load_spec, specs_dir, validate_request, validate_response

SPEC = "klaviyo/openapi-stable.json"
BOLT_KEY = "pk_it_bolt_webhooks_key"
BOLT = {**HEADERS, "Authorization": f"Klaviyo-API-Key {BOLT_KEY}"}
SECRET, ROTATED = "wh-secret-never-shown-7c1d", "wh-rotated-secret-93ab"
URL = "https://bridge.example.test/webhooks/klaviyo/bolt"
SENT_SMS, RECEIVED_SMS = "event:klaviyo.sent_sms", "event:klaviyo.received_sms"


env_once, env = two_accounts_fixture(API_KEY, BOLT_KEY)


@pytest.fixture(scope="module", autouse=True)
def spec_loaded() -> None:
    load_spec(SPEC)


def call(env: Env, method: str, template: str, path: str, body: Any = None,
         conforming: bool = True, **kw: Any) -> requests.Response:
    """Send `body` (checked against the spec first when it is meant to conform) and check the
    answer against the response the spec documents for its status."""
    if body is not None:
        if conforming:
            validate_request(SPEC, method, template, body)
        kw["json"] = body
    r = env.api(method, path, **kw)
    validate_response(SPEC, method, template, r.status_code, r.json() if r.content else b"")
    return r


def webhook(name: str = "zkbridge", url: str = URL, topics: tuple[str, ...] = (SENT_SMS,),
            **attributes: Any) -> dict[str, Any]:
    return {"data": {"type": "webhook",
                     "attributes": {"name": name, "endpoint_url": url, "secret_key": SECRET,
                                    **attributes},
                     "relationships": {"webhook-topics": {"data": [
                         {"type": "webhook-topic", "id": t} for t in topics]}}}}


def change(wid: str, topics: tuple[str, ...] | None = None, **attributes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "webhook", "id": wid, "attributes": attributes}
    if topics is not None:
        data["relationships"] = {"webhook-topics": {"data": [
            {"type": "webhook-topic", "id": t} for t in topics]}}
    return {"data": data}


def make(env: Env, headers: dict[str, str] = HEADERS, **kw: Any) -> str:
    r = call(env, "POST", "/api/webhooks", "/api/webhooks", webhook(**kw), headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


def topic_ids(resource: dict[str, Any]) -> list[str]:
    return [t["id"] for t in resource["relationships"]["webhook-topics"]["data"]]


def test_a_webhook_made_read_changed_and_deleted_conforms(env: Env) -> None:
    wid = make(env, description="texts to and from customers")
    one = call(env, "GET", "/api/webhooks/{id}", f"/api/webhooks/{wid}",
               params={"include": "webhook-topics"}).json()
    assert (one["data"]["attributes"]["name"], topic_ids(one["data"])) == ("zkbridge", [SENT_SMS])
    assert [t["id"] for t in one["included"]] == [SENT_SMS]
    r = call(env, "PATCH", "/api/webhooks/{id}", f"/api/webhooks/{wid}",
             change(wid, (SENT_SMS, RECEIVED_SMS), enabled=False, name="renamed"))
    assert r.status_code == 200
    assert (r.json()["data"]["attributes"]["enabled"], r.json()["data"]["attributes"]["name"],
            topic_ids(r.json()["data"])) == (False, "renamed", [SENT_SMS, RECEIVED_SMS])
    listed = call(env, "GET", "/api/webhooks", "/api/webhooks",
                  params={"include": "webhook-topics"}).json()
    assert [w["id"] for w in listed["data"]] == [wid]
    assert sorted(t["id"] for t in listed["included"]) == sorted([SENT_SMS, RECEIVED_SMS])
    deleted = call(env, "DELETE", "/api/webhooks/{id}", f"/api/webhooks/{wid}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert call(env, "GET", "/api/webhooks/{id}", f"/api/webhooks/{wid}").status_code == 404
    assert call(env, "GET", "/api/webhooks", "/api/webhooks").json()["data"] == []


def test_without_include_a_webhook_shows_its_topics_as_links_only(env: Env) -> None:
    wid = make(env)
    plain = call(env, "GET", "/api/webhooks", "/api/webhooks").json()
    related = plain["data"][0]["relationships"]["webhook-topics"]
    assert "data" not in related and related["links"]["related"].endswith(
        f"/api/webhooks/{wid}/webhook-topics/")
    assert "included" not in plain
    bad = call(env, "GET", "/api/webhooks", "/api/webhooks", params={"include": "profiles"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["source"]["parameter"] == "include"


def test_topics_conform_and_offer_what_the_sandbox_sends(env: Env) -> None:
    listed = call(env, "GET", "/api/webhook-topics", "/api/webhook-topics").json()["data"]
    ids = [t["id"] for t in listed]
    assert {SENT_SMS, RECEIVED_SMS, "event:klaviyo.sent_whatsapp_message"} <= set(ids)
    one = call(env, "GET", "/api/webhook-topics/{id}", f"/api/webhook-topics/{SENT_SMS}")
    assert one.json()["data"] == {"type": "webhook-topic", "id": SENT_SMS,
                                  "links": listed[0]["links"]}
    assert call(env, "GET", "/api/webhook-topics/{id}",
                "/api/webhook-topics/event:klaviyo.nothing").status_code == 404


def test_the_secret_is_never_shown_and_the_endpoint_only_by_its_origin(env: Env) -> None:
    made = env.api("POST", "/api/webhooks", json=webhook())
    wid = made.json()["data"]["id"]
    answers = [made, env.api("GET", f"/api/webhooks/{wid}"), env.api("GET", "/api/webhooks"),
               env.api("PATCH", f"/api/webhooks/{wid}", json=change(wid, secret_key=ROTATED))]
    for answer in answers:
        assert answer.ok and SECRET not in answer.text and ROTATED not in answer.text
        assert "/webhooks/klaviyo/bolt" not in answer.text
    shown = answers[1].json()["data"]["attributes"]
    assert shown["endpoint_url"] == "https://bridge.example.test"
    assert "secret_key" not in shown
    [kept] = env.admin("GET", "/_sandbox/klaviyo/webhooks")
    assert (kept["endpoint_url"], kept["secret_key"]) == (URL, ROTATED)


@pytest.mark.parametrize(("body", "pointer"), [
    (webhook(url="http://bridge.example.test/webhooks/klaviyo"), "/data/attributes/endpoint_url"),
    (webhook(topics=("event:klaviyo.nothing",)), "/data/relationships/webhook-topics/data/0/id"),
    (webhook(topics=()), "/data/relationships/webhook-topics/data"),
])
def test_a_conforming_create_with_a_bad_value_is_refused(env: Env, body: dict[str, Any],
                                                         pointer: str) -> None:
    r = call(env, "POST", "/api/webhooks", "/api/webhooks", body)
    assert r.status_code == 400 and r.json()["errors"][0]["source"]["pointer"] == pointer
    assert env.admin("GET", "/_sandbox/klaviyo/webhooks") == []


@pytest.mark.parametrize("missing", ["name", "endpoint_url", "secret_key", "relationships",
                                     "type"])
def test_a_create_missing_what_the_spec_requires_is_refused(env: Env, missing: str) -> None:
    body = webhook()
    for part in (body["data"], body["data"]["attributes"]):
        part.pop(missing, None)
    with pytest.raises(AssertionError):
        validate_request(SPEC, "POST", "/api/webhooks", body)     # the spec's own verdict
    r = call(env, "POST", "/api/webhooks", "/api/webhooks", body, conforming=False)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "invalid"
    assert env.admin("GET", "/_sandbox/klaviyo/webhooks") == []


def test_a_change_must_name_the_webhook_it_changes(env: Env) -> None:
    wid = make(env)
    other = call(env, "PATCH", "/api/webhooks/{id}", f"/api/webhooks/{wid}",
                 change("01JSOMEOTHERWEBHOOK000000", name="x"))
    assert other.status_code == 409
    no_id = {"data": {"type": "webhook", "attributes": {"name": "x"}}}
    assert call(env, "PATCH", "/api/webhooks/{id}", f"/api/webhooks/{wid}", no_id,
                conforming=False).status_code == 400
    unknown = call(env, "PATCH", "/api/webhooks/{id}", "/api/webhooks/01JNOSUCHWEBHOOK000000000",
                   change("01JNOSUCHWEBHOOK000000000", name="x"))
    assert unknown.status_code == 404
    enabled_on_create = call(env, "POST", "/api/webhooks", "/api/webhooks",
                             webhook(enabled=False), conforming=False)
    assert enabled_on_create.status_code == 400
    [kept] = env.admin("GET", "/_sandbox/klaviyo/webhooks")
    assert kept["name"] == "zkbridge"


def test_the_revision_header_and_the_key_are_checked_first(env: Env) -> None:
    no_revision = {k: v for k, v in HEADERS.items() if k != "revision"}
    for headers in (no_revision, {**HEADERS, "revision": "15-07-2026"}):
        r = call(env, "POST", "/api/webhooks", "/api/webhooks", webhook(), headers=headers)
        assert r.status_code == 400 and r.json()["errors"][0]["source"]["parameter"] == \
            "revision"
    wrong_key = {**HEADERS, "Authorization": "Klaviyo-API-Key pk_nobody"}
    assert call(env, "GET", "/api/webhooks", "/api/webhooks",
                headers=wrong_key).status_code == 401
    assert env.admin("GET", "/_sandbox/klaviyo/webhooks") == []
    suffixed = {**HEADERS, "revision": "2026-07-15.pre"}
    assert call(env, "GET", "/api/webhook-topics", "/api/webhook-topics",
                headers=suffixed).status_code == 200


def test_each_account_keeps_its_own_webhooks(env: Env) -> None:
    acme = make(env, name="acme's")
    bolt = make(env, BOLT, name="bolt's")
    assert [w["id"] for w in call(env, "GET", "/api/webhooks", "/api/webhooks",
                                  headers=BOLT).json()["data"]] == [bolt]
    assert call(env, "GET", "/api/webhooks/{id}", f"/api/webhooks/{acme}",
                headers=BOLT).status_code == 404
    assert call(env, "DELETE", "/api/webhooks/{id}", f"/api/webhooks/{acme}",
                headers=BOLT).status_code == 404
    assert [h["name"] for h in env.admin("GET", "/_sandbox/klaviyo/webhooks",
                                         params={"account": "acme"})] == ["acme's"]
    assert [h["id"] for h in env.admin("GET", "/_sandbox/klaviyo/webhooks",
                                       params={"account": "bolt"})] == [bolt]


def test_an_account_without_advanced_kdp_is_refused_on_every_route(env: Env) -> None:
    wid = make(env, BOLT)
    env.admin("POST", "/_sandbox/klaviyo/settings", params={"account": "bolt"},
              json={"webhooks_api_enabled": False})
    refused = [call(env, "GET", "/api/webhooks", "/api/webhooks", headers=BOLT),
               call(env, "POST", "/api/webhooks", "/api/webhooks", webhook(), headers=BOLT),
               call(env, "GET", "/api/webhooks/{id}", f"/api/webhooks/{wid}", headers=BOLT),
               call(env, "PATCH", "/api/webhooks/{id}", f"/api/webhooks/{wid}",
                    change(wid, name="x"), headers=BOLT),
               call(env, "DELETE", "/api/webhooks/{id}", f"/api/webhooks/{wid}", headers=BOLT),
               call(env, "GET", "/api/webhook-topics", "/api/webhook-topics", headers=BOLT)]
    assert [(r.status_code, r.json()["errors"][0]["code"]) for r in refused] == \
        [(403, "permission_denied")] * 6
    assert "Advanced KDP" in refused[0].json()["errors"][0]["detail"]
    [kept] = env.admin("GET", "/_sandbox/klaviyo/webhooks", params={"account": "bolt"})
    assert (kept["id"], kept["name"]) == (wid, "zkbridge")
    assert make(env) != wid                                # acme still may
    settings = env.admin("GET", "/_sandbox/klaviyo/settings", params={"account": "bolt"})
    assert settings["webhooks_api_enabled"] is False


def test_the_listing_pages_with_a_next_link_that_keeps_include(env: Env) -> None:
    made = [make(env, name=f"hook {n}") for n in range(12)]
    first = call(env, "GET", "/api/webhooks", "/api/webhooks",
                 params={"include": "webhook-topics"}).json()
    nxt = first["links"]["next"]
    assert nxt.startswith(env.base + "/api/webhooks?")
    second = requests.get(nxt, headers=HEADERS, timeout=10)
    validate_response(SPEC, "GET", "/api/webhooks", second.status_code, second.json())
    pages = [first["data"], second.json()["data"]]
    assert [w["id"] for page in pages for w in page] == made and len(pages[0]) < len(made)
    assert "next" not in second.json()["links"]
    assert all(topic_ids(w) == [SENT_SMS] for w in pages[1])        # include kept


def test_reset_forgets_the_webhooks_and_the_switch(env: Env) -> None:
    make(env, BOLT)
    env.admin("POST", "/_sandbox/klaviyo/settings", params={"account": "bolt"},
              json={"webhooks_api_enabled": False})
    env.admin("POST", "/_sandbox/reset")
    assert env.admin("GET", "/_sandbox/klaviyo/webhooks", params={"account": "bolt"}) == []
    assert call(env, "GET", "/api/webhooks", "/api/webhooks",
                headers=BOLT).json()["data"] == []


def test_production_limits_are_the_ones_the_spec_publishes() -> None:
    spec = json.loads((specs_dir() / SPEC).read_text(encoding="utf-8"))
    sb = Sandbox(SandboxConfig(production_limits=True))
    for path, bucket in (("/api/webhooks", "klaviyo:webhooks"),
                         ("/api/webhook-topics", "klaviyo:webhook-topics")):
        published = spec["paths"][path]["get"]["x-klaviyo-ratelimit"]
        burst, steady = (int(published[k].split("/")[0]) for k in ("burst", "steady"))
        for name in (bucket, bucket + "@bolt"):
            assert [(w.limit, w.seconds) for w in sb.limiter.limits[name]] == \
                [(burst, 1), (steady, 60)]
