"""The Zendesk stand-in's API over real HTTP: auth, tickets, comments, follow-ups, users."""

from __future__ import annotations

import requests
from zendesk_support import (
    ANA_ID,
    API_USER_ID,
    DANA_ID,
    EMAIL,
    OAUTH,
    api_session,
    stack_fixtures,
)

stack_server, stack = stack_fixtures()

CLOSED_PHRASE = "Status: closed prevents ticket update"


def test_basic_token_auth_identifies_the_api_user(stack):
    r = stack.get("/api/v2/users/me.json")
    assert r.status_code == 200
    assert r.json()["user"]["id"] == API_USER_ID
    assert r.json()["user"]["role"] in ("agent", "admin")


def test_users_me_answers_an_anonymous_caller_with_a_null_id(stack):
    """As Zendesk does [doc+seen]: a 200 alone does not prove the credentials."""
    r = requests.get(f"{stack.base}/api/v2/users/me", timeout=5)
    assert r.status_code == 200
    user = r.json()["user"]
    assert user["id"] is None and user["role"] == "end-user"


def test_bearer_oauth_token_is_accepted(stack):
    r = requests.get(f"{stack.base}/api/v2/users/me", timeout=5,
                     headers={"Authorization": f"Bearer {OAUTH}"})
    assert r.status_code == 200 and r.json()["user"]["id"] == API_USER_ID


def test_wrong_or_missing_credentials_get_401_couldnt_authenticate(stack):
    wrong = api_session(EMAIL, "not-the-token").get(f"{stack.base}/api/v2/users/me", timeout=5)
    bearer = requests.get(f"{stack.base}/api/v2/tickets/101.json", timeout=5,
                          headers={"Authorization": "Bearer nope"})
    anonymous = requests.post(f"{stack.base}/api/v2/tickets", json={}, timeout=5)
    for r in (wrong, bearer, anonymous):
        assert r.status_code == 401
        assert r.json() == {"error": "Couldn't authenticate you"}


def test_ticket_creation_answers_201_with_location_and_the_ticket(stack):
    r = stack.post("/api/v2/tickets.json", {"ticket": {
        "subject": "SMS from +15005550101", "comment": {"body": "Hi, my parcel?"},
        "requester": {"name": "Alice Ames", "email": "alice@example.com"},
        "tags": ["sms", "SMS", "inbound"], "external_id": "sms:+15005550101",
        "group_id": 7002, "brand_id": 8001}})
    assert r.status_code == 201
    t = r.json()["ticket"]
    assert r.headers["Location"].endswith(f"/api/v2/tickets/{t['id']}.json")
    assert t["id"] >= 101 and t["status"] == "new" and t["via"]["channel"] == "api"
    assert t["description"] == "Hi, my parcel?" and t["subject"] == "SMS from +15005550101"
    assert t["tags"] == ["sms", "inbound"] and t["external_id"] == "sms:+15005550101"
    assert t["group_id"] == 7002 and t["submitter_id"] == API_USER_ID
    requester = stack.get(f"/api/v2/users/{t['requester_id']}").json()["user"]
    assert requester["email"] == "alice@example.com" and requester["role"] == "end-user"
    assert "X-Rate-Limit" in r.headers and "X-Rate-Limit-Remaining" in r.headers


def test_idempotency_key_miss_then_hit_creates_one_ticket(stack):
    body = {"ticket": {"comment": {"body": "once"}, "requester_id": ANA_ID}}
    key = {"Idempotency-Key": "kl-evt-1:create"}
    first = stack.post("/api/v2/tickets", body, headers=key)
    again = stack.post("/api/v2/tickets", body, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.headers["x-idempotency-lookup"] == "miss"
    assert again.headers["x-idempotency-lookup"] == "hit"
    assert again.json() == first.json()
    assert len(stack.admin("GET", "/zendesk/tickets").json()["tickets"]) == 1


def test_idempotency_key_reused_with_another_body_is_refused(stack):
    key = {"Idempotency-Key": "k-2"}
    stack.post("/api/v2/tickets", {"ticket": {"comment": {"body": "a"}}}, headers=key)
    r = stack.post("/api/v2/tickets", {"ticket": {"comment": {"body": "b"}}}, headers=key)
    assert r.status_code == 400 and r.json()["error"] == "IdempotentRequestError"
    assert len(stack.admin("GET", "/zendesk/tickets").json()["tickets"]) == 1


def test_ticket_without_comment_is_422(stack):
    r = stack.post("/api/v2/tickets", {"ticket": {"subject": "no body"}})
    assert r.status_code == 422 and r.json()["error"] == "RecordInvalid"


def test_comment_update_answers_audit_whose_comment_event_id_is_the_comment_id(stack):
    t = stack.new_ticket()
    r = stack.put(f"/api/v2/tickets/{t['id']}.json", {"ticket": {
        "comment": {"body": "second text", "public": True, "author_id": t["requester_id"]},
        "status": "open"}})
    assert r.status_code == 200
    audit = r.json()["audit"]
    comment_event, change = audit["events"][0], audit["events"][1]
    comments = stack.get(f"/api/v2/tickets/{t['id']}/comments").json()["comments"]
    assert comment_event["type"] == "Comment" and comment_event["id"] == comments[-1]["id"]
    assert comments[-1]["author_id"] == t["requester_id"]
    assert change == {"id": change["id"], "type": "Change", "field_name": "status",
                      "value": "open", "previous_value": "new"}
    assert audit["ticket_id"] == t["id"] and audit["author_id"] == API_USER_ID


def test_api_comment_on_a_solved_ticket_does_not_reopen_it_unless_status_is_sent(stack):
    t = stack.new_ticket()
    stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {"status": "solved"}})
    r = stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {
        "comment": {"body": "thanks!", "author_id": t["requester_id"]}}})
    assert r.json()["ticket"]["status"] == "solved"
    r = stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {
        "comment": {"body": "actually no", "author_id": t["requester_id"]}, "status": "open"}})
    assert r.json()["ticket"]["status"] == "open"


def test_closed_ticket_refuses_updates_with_422(stack):
    t = stack.new_ticket()
    stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {"status": "closed"}})
    r = stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {"comment": {"body": "hello?"}}})
    assert r.status_code == 422
    assert r.json()["error"] == "RecordInvalid" and CLOSED_PHRASE in r.text


def test_unknown_ticket_is_404_record_not_found(stack):
    for r in (stack.get("/api/v2/tickets/999"), stack.put("/api/v2/tickets/999.json", {
            "ticket": {"status": "open"}}), stack.get("/api/v2/tickets/999/comments")):
        assert r.status_code == 404
        assert r.json() == {"error": "RecordNotFound", "description": "Not found"}


def test_comment_cap_answers_422(stack):
    t = stack.new_ticket()
    stack.sb.zendesk.comment_cap = 2  # 5000 in production; lowered in-process to test cheaply
    try:
        ok = stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {"comment": {"body": "2nd"}}})
        full = stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {"comment": {"body": "3rd"}}})
    finally:
        del stack.sb.zendesk.comment_cap
    assert ok.status_code == 200 and full.status_code == 422


def test_follow_up_only_links_to_a_closed_source(stack):
    source = stack.new_ticket(tags=["sms", "vip"])
    early = stack.post("/api/v2/tickets", {"ticket": {
        "comment": {"body": "still broken"}, "via_followup_source_id": source["id"]}})
    assert early.status_code == 422
    stack.put(f"/api/v2/tickets/{source['id']}", {"ticket": {"status": "closed"}})
    r = stack.post("/api/v2/tickets", {"ticket": {
        "comment": {"body": "still broken"}, "via_followup_source_id": source["id"],
        "requester_id": source["requester_id"]}})
    assert r.status_code == 201
    follow = r.json()["ticket"]
    assert follow["via"]["channel"] == "web_service"
    assert follow["via"]["source"]["rel"] == "follow_up"
    assert follow["via"]["source"]["from"]["ticket_id"] == source["id"]
    assert follow["tags"] == ["sms", "vip"]  # inherited when the request sends none
    again = stack.get(f"/api/v2/tickets/{source['id']}").json()["ticket"]
    assert again["followup_ids"] == [follow["id"]]


def test_show_ticket_sideloads_users_and_groups(stack):
    t = stack.new_ticket(group_id=7001, assignee_id=ANA_ID)
    body = stack.get(f"/api/v2/tickets/{t['id']}.json?include=users,groups").json()
    assert {u["id"] for u in body["users"]} == {t["requester_id"], API_USER_ID, ANA_ID}
    assert body["groups"] == [body["groups"][0]] and body["groups"][0]["id"] == 7001
    assert "users" not in stack.get(f"/api/v2/tickets/{t['id']}").json()


def test_list_by_external_id_returns_every_match(stack):
    a = stack.new_ticket(external_id="sms:+15005550101")
    b = stack.new_ticket(external_id="sms:+15005550101")
    stack.new_ticket(external_id="sms:+15005550102")
    body = stack.get("/api/v2/tickets.json", params={"external_id": "sms:+15005550101"}).json()
    assert [t["id"] for t in body["tickets"]] == [a["id"], b["id"]]
    assert body["count"] == 2 and body["next_page"] is None


def test_comments_list_has_bodies_html_and_authors(stack):
    t = stack.new_ticket(comment={"body": "a < b\nthanks", "author_id": ANA_ID})
    c = stack.get(f"/api/v2/tickets/{t['id']}/comments.json").json()["comments"][0]
    assert c["type"] == "Comment" and c["author_id"] == ANA_ID and c["public"] is True
    assert c["body"] == c["plain_body"] == "a < b\nthanks"
    assert c["html_body"] == "<p>a &lt; b<br>thanks</p>" and c["attachments"] == []


def test_tags_sent_on_update_replace_the_list(stack):
    t = stack.new_ticket(tags=["sms", "first"])
    r = stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {"tags": ["second"]}})
    assert r.json()["ticket"]["tags"] == ["second"]


def test_create_or_update_matches_email_or_external_id_but_never_phone(stack):
    def upsert(**user):
        return stack.post("/api/v2/users/create_or_update.json", {"user": user})

    first = upsert(name="Bob", external_id="sms:+15005550102", phone="+15005550102")
    assert first.status_code == 201 and first.json()["user"]["role"] == "end-user"
    same = upsert(name="Bob Burns", external_id="SMS:+15005550102")
    assert same.status_code == 200 and same.json()["user"]["id"] == first.json()["user"]["id"]
    assert same.json()["user"]["name"] == "Bob Burns"
    other = upsert(name="Roommate", external_id="sms:other", phone="+15005550102")
    assert other.status_code == 201 and other.json()["user"]["id"] != same.json()["user"]["id"]
    by_email = upsert(name="Alice", email="alice@example.com")
    again = upsert(name="Alice Ames", email="ALICE@example.com", phone="+15005550101")
    assert (by_email.status_code, again.status_code) == (201, 200)
    assert again.json()["user"]["phone"] == "+15005550101"
    dana = upsert(name="Dana Diaz", email="dana@acme-shop.test")  # an agent's email (rule A3)
    assert dana.status_code == 200 and dana.json()["user"]["id"] == DANA_ID
    assert dana.json()["user"]["role"] == "admin"


def test_user_and_group_lookups(stack):
    assert stack.get(f"/api/v2/users/{ANA_ID}.json").json()["user"]["name"] == "Ana Agent"
    assert stack.get("/api/v2/users/424242").status_code == 404
    assert stack.get("/api/v2/groups/7002.json").json()["group"]["name"] == "SMS"
    assert stack.get("/api/v2/groups/1").status_code == 404
    assert stack.get("/api/v2/no/such/endpoint").status_code == 404


def test_a_refused_update_changes_nothing(stack):
    t = stack.new_ticket()
    r = stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {
        "comment": {"body": "hello"}, "status": "open", "assignee_id": t["requester_id"]}})
    assert r.status_code == 422 and r.json()["details"]["assignee"]
    assert len(stack.get(f"/api/v2/tickets/{t['id']}/comments").json()["comments"]) == 1
    assert stack.get(f"/api/v2/tickets/{t['id']}").json()["ticket"]["status"] == "new"


def test_desk_ticket_with_every_field_reads_back_with_its_people_sideloaded(stack):
    r = stack.admin("POST", "/zendesk/tickets", json={
        "requester_email": "carla@example.com", "requester_name": "Carla Cruz",
        "author_id": ANA_ID, "subject": "Return", "body": "Label sent", "assignee_id": DANA_ID,
        "group_id": 7001, "tags": ["Returns", "sms"], "priority": "high", "type": "task",
        "custom_fields": [{"id": 360001, "value": "A123"}, {"id": 360002, "value": "damaged"}]})
    assert r.status_code == 201, r.text
    tid = r.json()["ticket"]["id"]
    body = stack.get(f"/api/v2/tickets/{tid}", params={"include": "users,groups"}).json()
    t = body["ticket"]
    assert (t["assignee_id"], t["group_id"], t["priority"], t["type"]) == (DANA_ID, 7001,
                                                                           "high", "task")
    assert t["tags"] == ["returns", "sms"]
    assert t["custom_fields"] == t["fields"] == [{"id": 360001, "value": "A123"},
                                                 {"id": 360002, "value": "damaged"},
                                                 {"id": 360003, "value": False},
                                                 {"id": 360004, "value": None}]
    users = {u["id"]: u for u in body["users"]}
    assert set(users) == {t["requester_id"], ANA_ID, DANA_ID}  # requester, submitter, assignee
    assert users[t["requester_id"]]["email"] == "carla@example.com"
    assert users[DANA_ID]["email"] == "dana@acme-shop.test"
    assert [(g["id"], g["name"]) for g in body["groups"]] == [(7001, "Support")]
    assert t["url"] == f"{stack.base}/api/v2/tickets/{tid}.json"


def test_api_tickets_take_priority_type_and_custom_fields(stack):
    t = stack.new_ticket(priority="urgent", type="incident", custom_fields=[
        {"id": 360001, "value": 42}, {"id": 999, "value": "ignored"}])
    assert (t["priority"], t["type"]) == ("urgent", "incident")
    assert t["custom_fields"][0] == {"id": 360001, "value": "42"}
    assert 999 not in [f["id"] for f in t["custom_fields"]]
    r = stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {
        "fields": [{"id": 360003, "value": True}, {"id": 360001, "value": "A9"}]}})
    assert r.status_code == 200
    assert r.json()["ticket"]["custom_fields"] == [{"id": 360001, "value": "A9"},
                                                   {"id": 360002, "value": None},
                                                   {"id": 360003, "value": True},
                                                   {"id": 360004, "value": None}]
    changes = {e["field_name"]: (e["previous_value"], e["value"])
               for e in r.json()["audit"]["events"]}
    assert changes == {"360001": ("42", "A9"), "360003": (None, True)}
    for bad, status in (({"priority": "asap"}, 422), ({"type": "bug"}, 422),
                        ({"custom_fields": [{"id": 360002, "value": "lost"}]}, 422),
                        ({"custom_fields": {"360001": "x"}}, 400)):
        r = stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": bad})
        assert r.status_code == status, bad
    assert stack.get(f"/api/v2/tickets/{t['id']}").json()["ticket"]["custom_fields"][0][
        "value"] == "A9"


def test_ticket_fields_list_the_custom_field_definitions(stack):
    body = stack.get("/api/v2/ticket_fields.json").json()
    custom = {f["id"]: f for f in body["ticket_fields"] if f["removable"]}
    assert custom[360001]["title"] == "Order number" and custom[360001]["type"] == "text"
    assert [o["value"] for o in custom[360002]["custom_field_options"]] == [
        "damaged", "wrong_item", "changed_mind"]
    assert body["count"] == len(body["ticket_fields"]) > len(custom)
    assert stack.get("/api/v2/ticket_fields/360003").json()["ticket_field"]["type"] == "checkbox"
    assert stack.get("/api/v2/ticket_fields/1").status_code == 404


def test_agent_ticket_page_links_to_the_desk(stack):
    t = stack.new_ticket()
    r = requests.get(f"{stack.base}/agent/tickets/{t['id']}", timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert f'href="/desk#ticket-{t["id"]}"' in r.text
    assert requests.get(f"{stack.base}/agent/tickets/x", timeout=5).status_code == 404
