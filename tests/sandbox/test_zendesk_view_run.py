"""Running the "SMS tickets" view over real HTTP (`GET /api/v2/views/{id}/tickets`): the tickets
its conditions match (tagged sms, not closed), 100 a page with an opaque cursor, each answer
valid against Zendesk's OpenAPI file. The bridge rebuilds its open-SMS index from it (E6)."""

from __future__ import annotations

from openapi_check import validate_response
from zendesk_support import stack_fixtures

stack_server, stack = stack_fixtures()

VIEW = {"view": {"title": "SMS tickets", "active": True,
                 "all": [{"field": "status", "operator": "less_than", "value": "closed"},
                         {"field": "current_tags", "operator": "includes", "value": "sms"}],
                 "any": []}}
TEMPLATE = "/api/v2/views/{view_id}/tickets"


def run(stack, view_id: int, **params) -> dict:
    r = stack.get(f"/api/v2/views/{view_id}/tickets", params=params)
    assert r.status_code == 200, r.text
    validate_response("zendesk/tickets.yml", "GET", TEMPLATE, 200, r.json())
    return r.json()


def test_the_view_lists_open_sms_tickets_a_page_at_a_time(stack):
    view_id = stack.post("/api/v2/views", VIEW).json()["view"]["id"]
    sms = [stack.new_ticket(tags=["sms"], external_id=f"zkb-sms:+1500555{i:04d}:12345")["id"]
           for i in range(5)]
    stack.new_ticket(tags=["email"])
    closed = stack.new_ticket(tags=["sms"])["id"]
    assert stack.put(f"/api/v2/tickets/{closed}", {"ticket": {"status": "closed"}}).ok
    first = run(stack, view_id, **{"page[size]": 3})
    assert [t["id"] for t in first["tickets"]] == sms[:3] and first["meta"]["has_more"]
    rest = run(stack, view_id, **{"page[size]": 3, "page[after]": first["meta"]["after_cursor"]})
    assert [t["id"] for t in rest["tickets"]] == sms[3:] and not rest["meta"]["has_more"]
    assert rest["tickets"][0]["external_id"] == "zkb-sms:+15005550003:12345"


def test_an_unknown_view_is_404(stack):
    assert stack.get("/api/v2/views/999/tickets").status_code == 404
