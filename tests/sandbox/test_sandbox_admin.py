"""The generic admin API (`/_sandbox/...`) and the Zendesk desk routes: contract and bad input."""

from __future__ import annotations

import pytest
from zendesk_support import ANA_ID, stack_fixtures

stack_server, stack = stack_fixtures()


def test_calls_are_listed_and_reset(stack):
    stack.get("/api/v2/users/me")
    assert stack.admin("GET", "/calls").json()["calls"] == {"zendesk GET /api/v2/users/me": 1}
    assert stack.admin("POST", "/calls/reset").json() == {"calls": {}, "throttled": {}}


def test_faults_are_set_read_and_cleared(stack):
    r = stack.admin("POST", "/faults", json={"api": "zendesk", "force_409": 3, "latency_ms": 5})
    assert r.status_code == 200 and r.json()["force_409"] == 3
    assert stack.admin("GET", "/faults").json()["zendesk"]["latency_ms"] == 5
    stack.admin("DELETE", "/faults").raise_for_status()
    assert stack.admin("GET", "/faults").json()["zendesk"]["force_409"] == 0


@pytest.mark.parametrize("body", [
    {"api": "jira", "force_409": 1}, {"force_409": 1}, {"api": "zendesk", "nonsense": 1},
    {"api": "zendesk", "error_rate": "lots"}, ["api", "zendesk"]])
def test_bad_fault_settings_are_400(stack, body):
    r = stack.admin("POST", "/faults", json=body)
    assert r.status_code == 400 and r.json()["error"] == "bad_request"


def test_limits_are_read_and_replaced(stack):
    limits = stack.admin("GET", "/limits").json()["limits"]
    assert {"zendesk", "zendesk:update_ticket", "zendesk:incremental"} <= set(limits)
    r = stack.admin("POST", "/limits", json={"bucket": "zendesk", "windows": [[5, 1], [50, 60]]})
    assert r.json() == {"bucket": "zendesk", "windows": [[5, 1.0], [50, 60.0]]}
    assert stack.admin("GET", "/limits").json()["limits"]["zendesk"] == [[5, 1.0], [50, 60.0]]


@pytest.mark.parametrize("body", [
    {"windows": [[1, 1]]}, {"bucket": "zendesk"}, {"bucket": "zendesk", "windows": [[1]]},
    {"bucket": "zendesk", "windows": [[1, 0]]}, {"bucket": "zendesk", "windows": [[-1, 5]]},
    {"bucket": "zendesk", "windows": [["a", 5]]}, {"bucket": "zendesk", "windows": "3/min"}])
def test_bad_limits_are_400(stack, body):
    assert stack.admin("POST", "/limits", json=body).status_code == 400


def test_deliveries_are_listed_by_source(stack):
    stack.new_ticket()
    stack.capture.wait_for(2)
    listed = stack.admin("GET", "/deliveries?source=zendesk").json()["deliveries"]
    assert len(listed) == 2 and {d["source"] for d in listed} == {"zendesk"}
    assert stack.admin("GET", "/deliveries?source=klaviyo").json()["deliveries"] == []
    assert stack.admin("GET", f"/deliveries/{listed[0]['id']}").json()["id"] == listed[0]["id"]
    assert stack.admin("GET", "/deliveries?source=jira").status_code == 400


def test_config_is_read_and_validated(stack):
    cfg = stack.admin("GET", "/config").json()
    assert cfg["zendesk_webhook_url"] == stack.capture.url
    assert stack.admin("POST", "/config", json={"zendesk_email": "x"}).status_code == 400
    assert stack.admin("POST", "/config", json={"zendesk_webhook_url": "ftp://x"}
                       ).status_code == 400
    assert stack.admin("POST", "/config", json={"zendesk_webhook_secret": ""}).status_code == 400
    r = stack.admin("POST", "/config", json={"klaviyo_webhook_url": "http://127.0.0.1:1/k"})
    assert r.json()["klaviyo_webhook_url"] == "http://127.0.0.1:1/k"
    stack.admin("POST", "/config", json={"klaviyo_webhook_url": None}).raise_for_status()


def test_reset_returns_to_seed_data(stack):
    stack.new_ticket()
    stack.admin("POST", "/limits", json={"bucket": "zendesk", "windows": [[1, 60]]})
    stack.admin("POST", "/reset").raise_for_status()
    assert stack.admin("GET", "/zendesk/tickets").json()["tickets"] == []
    assert {u["id"] for u in stack.admin("GET", "/zendesk/users").json()["users"]} == {
        9001, 9002, 9003}
    assert stack.admin("GET", "/limits").json()["limits"]["zendesk"][0][0] > 1
    assert stack.new_ticket()["id"] == 101


def test_seed_lists_profiles_agents_groups_and_numbers(stack):
    seed = stack.admin("GET", "/seed").json()
    assert {a["id"] for a in seed["agents"]} == {9001, 9002, 9003}
    assert {g["id"] for g in seed["groups"]} == {7001, 7002}
    assert any(p["phone"] == "+15005550101" for p in seed["profiles"])
    assert {b["kind"] for b in seed["brand_numbers"]} >= {"short_code", "branded"}


def test_clock_offset_is_read_and_validated(stack):
    assert stack.admin("POST", "/zendesk/clock", json={"offset_seconds": 90}
                       ).json()["offset_seconds"] == 90
    assert stack.admin("GET", "/zendesk/clock").json()["offset_seconds"] == 90
    assert stack.admin("POST", "/zendesk/clock", json={"offset_seconds": "soon"}
                       ).status_code == 400


def test_desk_routes_refuse_bad_input(stack):
    t = stack.new_ticket()
    assert stack.admin("POST", "/zendesk/tickets", json={"subject": "x"}).status_code == 400
    assert stack.admin("POST", "/zendesk/tickets", json={"body": "x"}).status_code == 400
    assert stack.admin("POST", f"/zendesk/tickets/{t['id']}/comments", json={}
                       ).status_code == 400
    assert stack.admin("POST", f"/zendesk/tickets/{t['id']}/comments",
                       json={"body": "x", "author_id": "ana"}).status_code == 400
    assert stack.admin("POST", f"/zendesk/tickets/{t['id']}/comments",
                       json={"body": "x", "attachments": [{"file_name": "a"}]}).status_code == 400
    assert stack.admin("POST", f"/zendesk/tickets/{t['id']}/status", json={}).status_code == 400
    assert stack.admin("POST", f"/zendesk/tickets/{t['id']}/status",
                       json={"status": "gone"}).status_code == 422
    assert stack.admin("POST", "/zendesk/tickets/999/comments",
                       json={"body": "x", "author_id": ANA_ID}).status_code == 404
    assert stack.admin("GET", "/zendesk/tickets/999").status_code == 404


def test_agent_can_open_a_ticket_for_a_customer_from_the_desk(stack):
    r = stack.admin("POST", "/zendesk/tickets", json={
        "requester_email": "alice@example.com", "requester_name": "Alice Ames",
        "author_id": ANA_ID, "subject": "Your order", "body": "It shipped!", "status": "pending",
        "tags": ["sms"], "group_id": 7002, "assignee_id": ANA_ID})
    assert r.status_code == 201
    t = r.json()["ticket"]
    assert t["status"] == "pending" and t["submitter_id"] == ANA_ID
    assert t["comments"][0]["author_id"] == ANA_ID and t["assignee_id"] == ANA_ID
    users = stack.admin("GET", "/zendesk/users").json()["users"]
    assert [u["email"] for u in users if u["id"] == t["requester_id"]] == ["alice@example.com"]
