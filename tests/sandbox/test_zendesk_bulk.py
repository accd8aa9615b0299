"""Bulk seeding (`POST /_sandbox/zendesk/tickets/bulk`) and what the incremental export makes of
it: order, cursors, `per_page`, and the `include=users,groups` sideloads, over real HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from zendesk_support import ANA_ID, API_USER_ID, stack_fixtures

stack_server, stack = stack_fixtures()

EXPORT = "/api/v2/incremental/tickets/cursor.json"
START = 1_780_000_000  # 2026-05-28, well before the sandbox's "now"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bulk(stack, **spec) -> dict:
    r = stack.admin("POST", "/zendesk/tickets/bulk", json=spec)
    assert r.status_code == 201, r.text
    return r.json()


def export_all(stack, **params) -> list[dict]:
    """Every page from start_time 0, following after_cursor until end_of_stream."""
    pages, query = [], {"start_time": 0, **params}
    while True:
        r = stack.get(EXPORT, params=query)
        assert r.status_code == 200, r.text
        pages.append(r.json())
        if pages[-1]["end_of_stream"]:
            return pages
        query = {k: v for k, v in params.items()} | {"cursor": pages[-1]["after_cursor"]}


def test_bulk_tickets_follow_the_spec_and_fire_no_webhooks(stack):
    made = bulk(stack, count=40, start_time=START, spacing_seconds=60, closed_every=5,
                phone_only_every=4, closed_after_seconds=90)
    assert made["ids"] == [101, 140] and made["count"] == 40
    assert (made["closed"], made["phone_only"]) == (8, 10)
    tickets = stack.admin("GET", "/zendesk/tickets").json()["tickets"]
    users = {u["id"]: u for u in stack.admin("GET", "/zendesk/users").json()["users"]}
    assert [t["id"] for t in tickets] == list(range(101, 141))
    for i, t in enumerate(tickets):
        k, requester = i + 1, users[t["requester_id"]]
        assert t["created_at"] == iso(START + i * 60)
        closed = k % 5 == 0
        assert (t["status"] == "closed") == closed
        assert t["updated_at"] == iso(START + i * 60 + (90 if closed else 0))
        assert requester["role"] == "end-user"
        if k % 4 == 0:
            assert requester["email"] is None and requester["phone"].startswith("+")
        else:
            assert requester["email"]
        assert "bulk" in t["tags"] and t["comments"][0]["author_id"] == t["requester_id"]
        assert {"id": 360001, "value": f"A{100000 + k}"} in t["custom_fields"]
        if t["status"] in ("solved", "closed"):
            assert t["assignee_id"] in (ANA_ID, 9002)
    assert {t["requester_id"] for t in tickets} == set(made["requester_ids"]) | set(
        made["phone_only_requester_ids"])
    assert len({t["priority"] for t in tickets}) == 5 and len({t["type"] for t in tickets}) == 5
    assert any(t["assignee_id"] is None for t in tickets)
    assert {t["group_id"] for t in tickets} == {None, 7001, 7002}
    assert any({"id": 360002, "value": "damaged"} in t["custom_fields"] for t in tickets)
    stack.settle()
    time.sleep(0.1)
    assert stack.admin("GET", "/deliveries").json()["deliveries"] == []
    assert stack.capture.hooks == []
    assert stack.new_ticket()["id"] == 141  # the id counters moved on


def test_bulk_reuses_known_requesters_and_takes_given_phones(stack):
    alice = stack.post("/api/v2/users/create_or_update", {"user": {
        "name": "Alice Ames", "email": "alice@example.com"}}).json()["user"]
    made = bulk(stack, count=6, requester_emails=["alice@example.com", "new@shop.test"],
                phone_only_every=3, requester_phones=["+15005550102"])
    assert made["requester_ids"][0] == alice["id"] and len(made["requester_ids"]) == 2
    [phone_user] = made["phone_only_requester_ids"]
    user = stack.get(f"/api/v2/users/{phone_user}").json()["user"]
    assert (user["phone"], user["email"]) == ("+15005550102", None)
    again = bulk(stack, count=3, phone_only_every=3, requester_phones=["+15005550102"])
    assert again["phone_only_requester_ids"] == [phone_user]  # the phone-only user is reused


@pytest.mark.parametrize("spec", [
    {}, {"count": 0}, {"count": "5"}, {"count": 100_001}, {"count": 2.5}, {"count": True},
    {"count": 5, "closed_every": -1}, {"count": 5, "spacing_seconds": "1m"},
    {"count": 5, "requester_emails": ["nope"]}, {"count": 5, "requester_emails": "a@b.c"},
    {"count": 5, "requester_phones": ["555-0101"]}, {"count": 5, "color": "red"}])
def test_bulk_refuses_bad_specs(stack, spec):
    r = stack.admin("POST", "/zendesk/tickets/bulk", json=spec)
    assert r.status_code == 400 and r.json()["error"] == "bad_request"
    assert stack.admin("GET", "/zendesk/tickets").json()["tickets"] == []


def test_5000_tickets_seed_and_export_in_updated_at_order(stack):
    made = bulk(stack, count=5000, start_time=START, spacing_seconds=1, closed_every=7,
                phone_only_every=9)
    assert made["ids"] == [101, 5100]
    pages = export_all(stack, per_page=1000, include="users,groups")
    assert [len(p["tickets"]) for p in pages] == [1000] * 5
    assert [p["end_of_stream"] for p in pages] == [False] * 4 + [True]
    rows = [t for p in pages for t in p["tickets"]]
    assert sorted(t["id"] for t in rows) == list(range(101, 5101))
    keys = [(t["updated_at"], t["id"]) for t in rows]
    assert keys == sorted(keys)
    assert rows[-1]["status"] == "closed"  # closed 300 s later: they sort after the others
    for p in pages:
        wanted = {i for t in p["tickets"] for i in (t["requester_id"], t["submitter_id"],
                                                    t["assignee_id"]) if i}
        assert {u["id"] for u in p["users"]} == wanted
        assert {g["id"] for g in p["groups"]} == {t["group_id"] for t in p["tickets"]
                                                  if t["group_id"]}


def test_export_cursor_is_exact_when_timestamps_are_equal(stack):
    bulk(stack, count=7, start_time=START, spacing_seconds=0)
    pages = export_all(stack, per_page=3)
    assert [[t["id"] for t in p["tickets"]] for p in pages] == [
        [101, 102, 103], [104, 105, 106], [107]]
    assert "users" not in pages[0] and "groups" not in pages[0]


def test_sideloads_cover_only_the_page_and_after_url_keeps_paging_the_same_way(stack):
    first = stack.new_ticket(assignee_id=ANA_ID, group_id=7002)
    second = stack.new_ticket(requester={"name": "Bob", "email": "bob@example.com"})
    third = stack.new_ticket(requester={"name": "Cy", "email": "cy@example.com"})
    stack.admin("POST", "/zendesk/clock", json={"offset_seconds": 120})
    page = stack.get(EXPORT, params={"start_time": 0, "per_page": 2,
                                     "include": "users,groups"}).json()
    assert [t["id"] for t in page["tickets"]] == [first["id"], second["id"]]
    assert {u["id"] for u in page["users"]} == {first["requester_id"], second["requester_id"],
                                                ANA_ID, API_USER_ID}
    assert [g["id"] for g in page["groups"]] == [7002] and page["groups"][0]["name"] == "SMS"
    assert "per_page=2" in page["after_url"] and "include=users%2Cgroups" in page["after_url"]
    rest = stack.api.get(page["after_url"], timeout=5).json()
    assert [t["id"] for t in rest["tickets"]] == [third["id"]] and rest["end_of_stream"]
    assert {u["id"] for u in rest["users"]} == {third["requester_id"], API_USER_ID}
    assert rest["groups"] == []
    only_users = stack.get(EXPORT, params={"start_time": 0, "include": "users"}).json()
    assert "groups" not in only_users and len(only_users["tickets"]) == 3


def test_per_page_is_clamped_and_checked(stack):
    bulk(stack, count=3, start_time=START)
    big = stack.get(EXPORT, params={"start_time": 0, "per_page": 5000}).json()
    assert len(big["tickets"]) == 3 and "per_page=1000" in big["after_url"]
    assert stack.get(EXPORT, params={"start_time": 0, "per_page": "many"}).status_code == 400
