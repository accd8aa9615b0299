"""Provisioning over real HTTP: the Webhooks API (and where event deliveries go once the bridge
has made its own webhook), views and automations, and their admin inspection routes.

Signatures are checked with `zendesk_support.signature_ok` (Zendesk's documented scheme) using the
secret read back from `GET /api/v2/webhooks/{id}/signing_secret`, as the bridge would.
"""

from __future__ import annotations

import base64
import time

import pytest
import requests
from zendesk_support import SECRET, signature_ok, stack_fixtures, wait_until

stack_server, stack = stack_fixtures()

HOOKS = "/api/v2/webhooks"


def webhook(stack, path: str = "/bridge", **fields) -> dict:
    body = {"name": "zkbridge events", "endpoint": stack.capture.url.replace("/zendesk", path),
            "http_method": "POST", "request_format": "json", "status": "active",
            "subscriptions": ["zen:event-type:ticket.created",
                              "zen:event-type:ticket.comment_added"], **fields}
    r = stack.post(HOOKS, {"webhook": body})
    assert r.status_code == 201, r.text
    return r.json()["webhook"]


def secret_of(stack, hook_id: str) -> str:
    r = stack.get(f"{HOOKS}/{hook_id}/signing_secret")
    assert r.status_code == 200
    assert r.json()["signing_secret"]["algorithm"] == "SHA256"
    return r.json()["signing_secret"]["secret"]


def hooks_at(stack, path: str) -> list:
    return [h for h in stack.capture.hooks if h.path == path]


def test_webhook_is_created_shown_listed_and_filtered(stack):
    made = webhook(stack, authentication={"type": "basic_auth", "add_position": "header",
                                          "data": {"username": "zk", "password": "pw"}})
    assert isinstance(made["id"], str) and len(made["id"]) == 26
    assert made["subscriptions"] == ["zen:event-type:ticket.created",
                                     "zen:event-type:ticket.comment_added"]
    assert made["created_by"] == "9003" and made["status"] == "active"
    assert made["authentication"] == {"type": "basic_auth", "add_position": "header"}
    assert "signing_secret" not in made and "pw" not in str(made)
    assert stack.get(f"{HOOKS}/{made['id']}").json()["webhook"] == made
    webhook(stack, name="Other hook")
    names = [w["name"] for w in stack.get(
        HOOKS, params={"filter[name_contains]": "ZKBRIDGE"}).json()["webhooks"]]
    assert names == ["zkbridge events"]
    listed = stack.get(HOOKS).json()
    assert len(listed["webhooks"]) == 2 and listed["meta"]["has_more"] is False
    assert stack.get(HOOKS, params={"filter[status]": "inactive"}).json()["webhooks"] == []
    assert len(secret_of(stack, made["id"])) >= 32
    calls = stack.admin("GET", "/calls").json()["calls"]
    assert calls["zendesk POST /api/v2/webhooks"] == 2
    assert calls["zendesk GET /api/v2/webhooks/{id}/signing_secret"] == 1
    assert stack.get(f"{HOOKS}.json").status_code == 404  # no .json on this API
    admin = stack.admin("GET", "/zendesk/webhooks").json()["webhooks"][0]
    assert admin["signing_secret"]["secret"] == secret_of(stack, made["id"])
    assert admin["authentication"]["data"] == {"username": "zk", "password": "pw"}


@pytest.mark.parametrize("change", [
    {"endpoint": None}, {"endpoint": "ftp://x.test/"}, {"http_method": "GET"},
    {"request_format": "xml"}, {"status": "paused"},
    {"subscriptions": ["ticket.created"]},
    {"subscriptions": ["conditional_ticket_events", "zen:event-type:ticket.created"]},
    {"authentication": {"type": "basic_auth", "add_position": "header", "data": {}}},
    {"authentication": {"type": "oauth", "data": {"token": "t"}}},
    {"custom_headers": {"X-A": 1}}])
def test_invalid_webhooks_are_400_with_an_errors_list(stack, change):
    body = {"name": "n", "endpoint": "https://x.test/hook", "http_method": "POST",
            "request_format": "json", "status": "active",
            "subscriptions": ["zen:event-type:ticket.created"], **change}
    r = stack.post(HOOKS, {"webhook": {k: v for k, v in body.items() if v is not None}})
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["code"] and r.json()["errors"][0]["detail"]
    assert stack.admin("GET", "/zendesk/webhooks").json()["webhooks"] == []


def test_unknown_webhook_is_404_and_credentials_are_required(stack):
    for r in (stack.get(f"{HOOKS}/01NOPE"), stack.patch(f"{HOOKS}/01NOPE", {"webhook": {}}),
              stack.get(f"{HOOKS}/01NOPE/signing_secret"), stack.delete(f"{HOOKS}/01NOPE")):
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == "RecordNotFound"
    anonymous = requests.get(f"{stack.base}{HOOKS}", timeout=5)
    assert anonymous.status_code == 401


def test_put_replaces_patch_merges_and_both_answer_204(stack):
    made = webhook(stack, description="first", custom_headers={"X-Env": "test"})
    full = {"name": "renamed", "endpoint": made["endpoint"], "http_method": "POST",
            "request_format": "json", "status": "active",
            "subscriptions": ["zen:event-type:ticket.status_changed"]}
    r = stack.put(f"{HOOKS}/{made['id']}", {"webhook": full})
    assert r.status_code == 204 and r.content == b""
    shown = stack.get(f"{HOOKS}/{made['id']}").json()["webhook"]
    assert shown["name"] == "renamed" and "description" not in shown
    assert "custom_headers" not in shown  # left out of a PUT: back to the default
    r = stack.patch(f"{HOOKS}/{made['id']}", {"webhook": {"status": "inactive"}},
                    headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 204
    shown = stack.get(f"{HOOKS}/{made['id']}").json()["webhook"]
    assert (shown["status"], shown["name"]) == ("inactive", "renamed")
    bad = stack.patch(f"{HOOKS}/{made['id']}", {"webhook": {"http_method": "GET"}})
    assert bad.status_code == 400  # event webhooks stay POST
    assert stack.delete(f"{HOOKS}/{made['id']}").status_code == 204
    assert stack.get(HOOKS).json()["webhooks"] == []


def test_event_webhooks_take_over_deliveries_each_with_its_own_secret(stack):
    a = webhook(stack, "/a", authentication={"type": "bearer_token", "add_position": "header",
                                             "data": {"token": "tok-a"}},
                custom_headers={"X-Bridge-Env": "test"})
    b = webhook(stack, "/b", subscriptions=["zen:event-type:ticket.created",
                                            "zen:event-type:ticket.status_changed"])
    webhook(stack, "/c", status="inactive")
    secrets = {"/a": secret_of(stack, a["id"]), "/b": secret_of(stack, b["id"])}
    t = stack.new_ticket()
    stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {"status": "open"}})
    stack.capture.wait_for(4)
    stack.settle()
    time.sleep(0.1)
    assert sorted(h.json["type"].rsplit(".", 1)[1] for h in hooks_at(stack, "/a")) == [
        "comment_added", "created"]
    assert sorted(h.json["type"].rsplit(".", 1)[1] for h in hooks_at(stack, "/b")) == [
        "created", "status_changed"]
    assert hooks_at(stack, "/zendesk") == [] and hooks_at(stack, "/c") == []
    for path, hook_id in (("/a", a["id"]), ("/b", b["id"])):
        for h in hooks_at(stack, path):
            assert signature_ok(h.headers, h.body, secrets[path])
            assert not signature_ok(h.headers, h.body, SECRET)
            assert h.headers["X-Zendesk-Webhook-Id"] == hook_id
    first_a = hooks_at(stack, "/a")[0]
    assert first_a.headers["Authorization"] == "Bearer tok-a"
    assert first_a.headers["X-Bridge-Env"] == "test"
    [created_a] = [h.json for h in hooks_at(stack, "/a") if h.json["type"].endswith("created")]
    [created_b] = [h.json for h in hooks_at(stack, "/b") if h.json["type"].endswith("created")]
    assert created_a == created_b  # one event, same id, to every subscriber


def test_configured_url_is_used_until_an_active_event_webhook_exists(stack):
    webhook(stack, "/trigger", http_method="GET", subscriptions=["conditional_ticket_events"])
    idle = webhook(stack, "/idle", status="inactive")
    stack.new_ticket()
    wait_until(lambda: len(hooks_at(stack, "/zendesk")) == 2, what="configured URL deliveries")
    stack.patch(f"{HOOKS}/{idle['id']}", {"webhook": {"status": "active"}})
    stack.new_ticket()
    wait_until(lambda: len(hooks_at(stack, "/idle")) == 2, what="API webhook deliveries")
    stack.delete(f"{HOOKS}/{idle['id']}")
    stack.new_ticket()
    wait_until(lambda: len(hooks_at(stack, "/zendesk")) == 4, what="back to the configured URL")
    assert hooks_at(stack, "/trigger") == []


def test_reset_signing_secret_signs_later_deliveries_with_the_new_one(stack):
    made = webhook(stack, "/r", authentication={
        "type": "basic_auth", "add_position": "header", "data": {"username": "u", "password": "p"}})
    old = secret_of(stack, made["id"])
    r = stack.post(f"{HOOKS}/{made['id']}/signing_secret", None)
    assert r.status_code == 201
    new = r.json()["signing_secret"]["secret"]
    assert new != old and secret_of(stack, made["id"]) == new
    stack.new_ticket()
    hooks = stack.capture.wait_for(2)
    assert all(signature_ok(h.headers, h.body, new) for h in hooks)
    assert hooks[0].headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()


def test_views_are_created_listed_updated_and_validated(stack):
    r = stack.post("/api/v2/views", {"view": {
        "title": "SMS tickets", "all": [{"field": "status", "operator": "less_than",
                                         "value": "solved"}],
        "any": [{"field": "current_tags", "operator": "includes", "value": "sms"}],
        "output": {"columns": ["status", "subject", 360001], "sort_by": "updated"}}})
    assert r.status_code == 201, r.text
    view = r.json()["view"]
    assert view["conditions"]["any"][0]["value"] == "sms" and view["active"] is True
    assert view["execution"]["sort_by"] == "updated"
    assert view["execution"]["columns"][2] == {"id": 360001, "title": "Order number"}
    assert view["url"].endswith(f"/api/v2/views/{view['id']}.json")
    r = stack.put(f"/api/v2/views/{view['id']}.json", {"view": {
        "title": "SMS, open", "conditions": {"all": [
            {"field": "status", "operator": "is", "value": "open"}]}}})
    assert r.status_code == 200
    updated = r.json()["view"]
    assert updated["title"] == "SMS, open" and updated["conditions"]["any"] == view[
        "conditions"]["any"]  # a list not sent is kept
    listed = stack.get("/api/v2/views").json()
    assert listed["count"] == 1 and listed["views"][0]["title"] == "SMS, open"
    assert stack.admin("GET", "/zendesk/views").json()["views"] == listed["views"]
    for bad in ({"all": [{"field": "status", "operator": "is", "value": "open"}]},
                {"title": "x", "all": [{"field": "current_tags", "operator": "includes",
                                        "value": "sms"}]},
                {"title": "x", "all": [{"field": "status"}]}):
        r = stack.post("/api/v2/views", {"view": bad})
        assert r.status_code == 422 and r.json()["error"] == "RecordInvalid"
    assert stack.put("/api/v2/views/1", {"view": {"title": "x"}}).status_code == 404
    assert stack.delete(f"/api/v2/views/{view['id']}").status_code == 204
    assert stack.get("/api/v2/views").json()["count"] == 0


def test_automations_are_validated_like_zendesk(stack):
    hook = webhook(stack, "/auto", subscriptions=["conditional_ticket_events"])
    events_hook = webhook(stack, "/events")
    good = {"title": "Close solved SMS tickets", "conditions": {"all": [
        {"field": "status", "operator": "is", "value": "solved"},
        {"field": "SOLVED", "operator": "greater_than", "value": "96"}], "any": []},
        "actions": [{"field": "status", "value": "closed"},
                    {"field": "notification_webhook", "value": [hook["id"], "{}"]}]}
    r = stack.post("/api/v2/automations.json", {"automation": good})
    assert r.status_code == 201, r.text
    made = r.json()["automation"]
    assert made["actions"][1]["value"][0] == hook["id"] and made["active"] is True
    webhook_for_events = [{"field": "notification_webhook", "value": [events_hook["id"], "{}"]},
                          {"field": "status", "value": "closed"}]
    no_time = {"all": [{"field": "status", "operator": "is", "value": "solved"}]}
    never_done = {"all": [{"field": "SOLVED", "operator": "greater_than", "value": "96"}]}
    for bad in ({**good, "conditions": no_time}, {**good, "actions": []},
                {**good, "conditions": never_done,
                 "actions": [{"field": "priority", "value": "low"}]},
                {**good, "actions": webhook_for_events}, {**good, "title": ""}):
        r = stack.post("/api/v2/automations", {"automation": bad})
        assert r.status_code == 422, bad
    r = stack.put(f"/api/v2/automations/{made['id']}", {"automation": {"active": False}})
    assert r.status_code == 200 and r.json()["automation"]["active"] is False
    assert r.json()["automation"]["actions"] == made["actions"]
    assert stack.get(f"/api/v2/automations/{made['id']}").json()["automation"]["active"] is False
    assert stack.get("/api/v2/automations").json()["count"] == 1
    assert len(stack.admin("GET", "/zendesk/automations").json()["automations"]) == 1
    assert stack.post("/api/v2/automations", {"title": "no root"}).status_code == 400


def test_reset_forgets_provisioned_objects_and_delivers_to_the_configured_url(stack):
    webhook(stack)
    stack.post("/api/v2/views", {"view": {"title": "v", "all": [
        {"field": "status", "operator": "is", "value": "new"}]}})
    stack.admin("POST", "/reset").raise_for_status()
    for kind in ("webhooks", "views", "automations"):
        assert stack.admin("GET", f"/zendesk/{kind}").json()[kind] == []
    stack.new_ticket()
    wait_until(lambda: len(hooks_at(stack, "/zendesk")) == 2, what="configured URL deliveries")
