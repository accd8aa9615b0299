"""Every Zendesk call the bridge makes, checked against the published OpenAPI files both ways:
the request the bridge would send fits the request schema, the sandbox's answer fits the
response schema.

Gaps in the specs, noted rather than bent around:
- The split files lack their core components (TicketObject, AuditObject, UserObject, request
  bodies); `openapi_check` fills exactly those from `zendesk_missing_components.yml`
  (reconstructed, not vendor text) and `test_the_spec_gap_is_visible` keeps that visible.
- No file covers groups (`GET /api/v2/groups/{id}`), so it is not checked here.
- The files document only success responses for these operations, so error bodies (401, 404,
  409, 422, 429) are checked by the behaviour tests against API-NOTES instead.
"""

from __future__ import annotations

import pytest
from openapi_check import SpecViolation, load_spec, validate_request, validate_response
from zendesk_support import ANA_ID, stack_fixtures

stack_server, stack = stack_fixtures()

TICKETS, USERS, INCREMENTAL = "zendesk/tickets.yml", "zendesk/users.yml", \
    "zendesk/incremental.yml"

CREATE = {"ticket": {"subject": "SMS from +15005550101",
                     "comment": {"body": "Hi, where is my parcel?", "public": True},
                     "tags": ["sms", "inbound"],
                     "external_id": "sms:+15005550101", "group_id": 7002, "brand_id": 8001}}


def sent(stack, method: str, template: str, path: str, body: dict, spec: str = TICKETS):
    """Validate the request, send it, validate the answer; return the response."""
    validate_request(spec, method, template, body)
    r = stack.api.request(method, f"{stack.base}{path}", json=body, timeout=10)
    validate_response(spec, method, template, r.status_code, r.json())
    return r


def fetched(stack, template: str, path: str, spec: str = TICKETS, **params):
    r = stack.get(path, params=params)
    assert r.status_code == 200, r.text
    validate_response(spec, "GET", template, 200, r.json())
    return r.json()


def a_customer(stack) -> int:
    body = {"user": {"name": "Bob Burns", "external_id": "sms:+15005550102",
                     "phone": "+15005550102", "role": "end-user"}}
    r = sent(stack, "POST", "/api/v2/users/create_or_update", "/api/v2/users/create_or_update",
             body, USERS)
    assert r.status_code == 201
    again = sent(stack, "POST", "/api/v2/users/create_or_update",
                 "/api/v2/users/create_or_update.json", body, USERS)
    assert again.status_code == 200
    return r.json()["user"]["id"]


def test_create_ticket_conforms(stack):
    body = {"ticket": {**CREATE["ticket"], "requester_id": a_customer(stack)}}
    r = sent(stack, "POST", "/api/v2/tickets", "/api/v2/tickets.json", body)
    assert r.status_code == 201


def test_create_ticket_answers_the_audit_like_live_zendesk(stack):
    """The spec's TicketResponse names only `ticket`; live Zendesk (and zenpy) add `audit`:
    the comment, then the fields the ticket was created with (#14). Checked against the
    spec's AuditObject as the update answer's audit is."""
    requester = a_customer(stack)
    r = sent(stack, "POST", "/api/v2/tickets", "/api/v2/tickets.json",
             {"ticket": {**CREATE["ticket"], "requester_id": requester}})
    audit = r.json()["audit"]
    validate_response(TICKETS, "PUT", "/api/v2/tickets/{ticket_id}", 200,
                      {"ticket": r.json()["ticket"], "audit": audit})
    kinds = [(e["type"], e.get("field_name")) for e in audit["events"]]
    assert kinds[0] == ("Comment", None) and audit["events"][0]["body"] == \
        CREATE["ticket"]["comment"]["body"]
    assert ("Create", "status") in kinds and ("Create", "tags") in kinds
    assert audit["ticket_id"] == r.json()["ticket"]["id"]


def test_comments_page_at_100_with_cursor_pagination_newest_first(stack):
    requester = a_customer(stack)
    tid = stack.post("/api/v2/tickets", {"ticket": {**CREATE["ticket"],
                                                    "requester_id": requester}}).json()[
        "ticket"]["id"]
    for i in range(149):
        stack.put(f"/api/v2/tickets/{tid}", {"ticket": {"comment": {
            "body": f"text {i}", "public": True, "author_id": requester}}})
    path, template = f"/api/v2/tickets/{tid}/comments.json", "/api/v2/tickets/{ticket_id}/comments"
    first = fetched(stack, template, path, **{"page[size]": "100", "sort": "-created_at"})
    assert len(first["comments"]) == 100 and first["comments"][0]["body"] == "text 148"
    assert first["meta"]["has_more"] and first["links"]["next"]
    second = stack.api.get(first["links"]["next"], timeout=10).json()
    assert len(second["comments"]) == 50 and not second["meta"]["has_more"]
    assert second["comments"][-1]["body"] == CREATE["ticket"]["comment"]["body"]
    assert second["links"]["next"] is None
    offset = fetched(stack, template, path)
    assert len(offset["comments"]) == 100 and offset["count"] == 150 and offset["next_page"]
    assert stack.get(path, params={"page[size]": "10", "sort": "sideways"}).status_code == 400


def test_update_ticket_with_comment_and_status_conforms(stack):
    requester = a_customer(stack)
    ticket = stack.post("/api/v2/tickets", {"ticket": {**CREATE["ticket"],
                                                       "requester_id": requester}}).json()
    body = {"ticket": {"comment": {"body": "another text", "public": True,
                                   "author_id": requester}, "status": "open"}}
    tid = ticket["ticket"]["id"]
    r = sent(stack, "PUT", "/api/v2/tickets/{ticket_id}", f"/api/v2/tickets/{tid}.json", body)
    assert r.status_code == 200 and r.json()["audit"]["events"]


def test_reads_conform(stack):
    requester = a_customer(stack)
    tid = stack.post("/api/v2/tickets", {"ticket": {**CREATE["ticket"], "requester_id": requester,
                                                    "assignee_id": ANA_ID}}).json()["ticket"]["id"]
    stack.admin("POST", f"/zendesk/tickets/{tid}/comments", json={
        "author_id": ANA_ID, "body": "On its way",
        "attachments": [{"file_name": "map.png", "content_url": "https://x.test/map.png"}]})
    fetched(stack, "/api/v2/tickets/{ticket_id}", f"/api/v2/tickets/{tid}.json",
            include="users,groups")
    listed = fetched(stack, "/api/v2/tickets", "/api/v2/tickets.json",
                     external_id="sms:+15005550101")
    assert [t["id"] for t in listed["tickets"]] == [tid]
    comments = fetched(stack, "/api/v2/tickets/{ticket_id}/comments",
                       f"/api/v2/tickets/{tid}/comments.json")
    assert comments["comments"][1]["attachments"]
    fetched(stack, "/api/v2/users/{user_id}", f"/api/v2/users/{requester}.json", USERS)
    fetched(stack, "/api/v2/users/me", "/api/v2/users/me.json", USERS)


@pytest.mark.parametrize("spec", [INCREMENTAL, TICKETS])
def test_incremental_export_conforms(stack, spec):
    stack.new_ticket()
    stack.admin("POST", "/zendesk/clock", json={"offset_seconds": 120})
    page = fetched(stack, "/api/v2/incremental/tickets/cursor",
                   "/api/v2/incremental/tickets/cursor.json", spec, start_time=0)
    assert page["tickets"] and page["end_of_stream"] is True


@pytest.mark.parametrize("spec", [INCREMENTAL, TICKETS])
def test_bulk_tickets_and_sideloads_in_the_export_conform(stack, spec):
    stack.admin("POST", "/zendesk/tickets/bulk", json={
        "count": 30, "closed_every": 4, "phone_only_every": 3}).raise_for_status()
    page = fetched(stack, "/api/v2/incremental/tickets/cursor",
                   "/api/v2/incremental/tickets/cursor.json", spec, start_time=0, per_page=20,
                   include="users,groups")
    assert len(page["tickets"]) == 20 and page["users"] and page["groups"]
    tid = page["tickets"][0]["id"]
    fetched(stack, "/api/v2/tickets/{ticket_id}", f"/api/v2/tickets/{tid}.json",
            include="users,groups")


def test_the_checker_is_not_vacuous():
    with pytest.raises(SpecViolation):
        validate_request(TICKETS, "POST", "/api/v2/tickets", {"ticket": {"subject": "no body"}})
    with pytest.raises(SpecViolation):
        validate_response(TICKETS, "GET", "/api/v2/tickets/{id}", 200,
                          {"ticket": {"id": "101", "requester_id": 1, "status": "OPEN"}})
    with pytest.raises(SpecViolation):
        validate_response(INCREMENTAL, "GET", "/api/v2/incremental/tickets/cursor", 200,
                          {"tickets": [], "end_of_stream": "yes"})


def test_the_spec_gap_is_visible():
    assert {"TicketObject", "AuditObject", "TicketCreateRequest"} <= set(
        load_spec(TICKETS).supplemented)
    assert "UserObject" in load_spec(USERS).supplemented
    assert "CursorBasedExportIncrementalTicketsResponse" not in load_spec(
        INCREMENTAL).supplemented
