"""Incremental export paging, rate-limit windows and injected faults, over real HTTP.

Windows are shrunk through the admin API and time is moved with the Zendesk clock offset, so
nothing here waits for a real minute.
"""

from __future__ import annotations

import math
import time

from zendesk_support import stack_fixtures

stack_server, stack = stack_fixtures()

EXPORT = "/api/v2/incremental/tickets/cursor.json"


def shift_clock(stack, seconds: float) -> None:
    stack.admin("POST", "/zendesk/clock", json={"offset_seconds": seconds}).raise_for_status()


def test_cursor_export_pages_until_end_of_stream(stack):
    made = [stack.new_ticket(subject=f"t{i}")["id"] for i in range(3)]
    shift_clock(stack, 120)
    first = stack.get(EXPORT, params={"start_time": 0, "per_page": 2}).json()
    assert [t["id"] for t in first["tickets"]] == made[:2]
    assert first["end_of_stream"] is False and first["before_cursor"] is None
    second = stack.api.get(first["after_url"], timeout=5).json()
    assert [t["id"] for t in second["tickets"]] == made[2:] and second["end_of_stream"] is True
    third = stack.get(EXPORT, params={"cursor": second["after_cursor"]}).json()
    assert third["tickets"] == [] and third["end_of_stream"] is True


def test_export_excludes_the_last_minute(stack):
    t = stack.new_ticket()
    start = int(time.time()) - 3600
    assert stack.get(EXPORT, params={"start_time": start}).json()["tickets"] == []
    shift_clock(stack, 61)
    assert [x["id"] for x in stack.get(EXPORT, params={"start_time": start}).json()[
        "tickets"]] == [t["id"]]


def test_updated_ticket_comes_back_after_the_cursor(stack):
    t = stack.new_ticket()
    shift_clock(stack, 120)
    page = stack.get(EXPORT, params={"start_time": 0}).json()
    stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {"status": "pending"}})
    shift_clock(stack, 240)
    again = stack.get(EXPORT, params={"cursor": page["after_cursor"]}).json()
    assert [(x["id"], x["status"]) for x in again["tickets"]] == [(t["id"], "pending")]


def test_export_needs_start_time_or_cursor(stack):
    assert stack.get(EXPORT).status_code == 400
    assert stack.get(EXPORT, params={"cursor": "%%%"}).status_code == 400


def test_account_window_answers_429_with_retry_after_then_recovers(stack):
    stack.admin("POST", "/limits", json={"bucket": "zendesk", "windows": [[3, 2]]})
    time.sleep(2 - time.time() % 2 + 0.05)  # start at the beginning of a fixed window
    answers = [stack.get("/api/v2/users/me") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["X-Rate-Limit-Remaining"] for r in answers[:3]] == ["2", "1", "0"]
    assert all(r.headers["X-Rate-Limit"] == "3" for r in answers)
    refused = answers[3]
    retry_after = refused.headers["Retry-After"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 2
    assert refused.json()["error"] == "APIRateLimitExceeded"
    assert stack.admin("GET", "/calls").json()["throttled"]["zendesk"] == 1
    time.sleep(int(retry_after))
    assert stack.get("/api/v2/users/me").status_code == 200


def test_incremental_export_has_its_own_tighter_bucket(stack):
    stack.admin("POST", "/limits", json={"bucket": "zendesk:incremental", "windows": [[2, 60]]})
    codes = [stack.get(EXPORT, params={"start_time": 0}) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert 0 < int(codes[2].headers["Retry-After"]) <= math.ceil(60)
    assert stack.get("/api/v2/users/me").status_code == 200  # other endpoints unaffected


def test_update_ticket_bucket_limits_puts_only(stack):
    t = stack.new_ticket()
    stack.admin("POST", "/limits", json={"bucket": "zendesk:update_ticket", "windows": [[1, 60]]})
    path = f"/api/v2/tickets/{t['id']}"
    assert stack.put(path, {"ticket": {"status": "open"}}).status_code == 200
    assert stack.put(path, {"ticket": {"status": "pending"}}).status_code == 429
    assert stack.get(path).status_code == 200


def test_error_rate_one_answers_5xx_until_cleared(stack):
    stack.admin("POST", "/faults", json={"api": "zendesk", "error_rate": 1.0})
    codes = {stack.get("/api/v2/users/me").status_code for _ in range(6)}
    assert codes <= {500, 503} and codes
    stack.admin("DELETE", "/faults?api=zendesk")
    assert stack.get("/api/v2/users/me").status_code == 200


def test_forced_409_and_429_hit_the_next_calls_only(stack):
    stack.admin("POST", "/faults", json={"api": "zendesk", "force_409": 2})
    conflicts = [stack.put("/api/v2/tickets/1", {"ticket": {}}) for _ in range(2)]
    assert [r.status_code for r in conflicts] == [409, 409]
    assert conflicts[0].json()["error"] == "DatabaseConflict"
    stack.admin("POST", "/faults", json={"api": "zendesk", "force_429": 1, "retry_after": 7})
    limited = stack.get("/api/v2/users/me")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert stack.get("/api/v2/users/me").status_code == 200


def test_latency_and_timeouts(stack):
    stack.admin("POST", "/faults", json={"api": "zendesk", "latency_ms": 300})
    started = time.monotonic()
    assert stack.get("/api/v2/users/me").status_code == 200
    assert time.monotonic() - started >= 0.3
    stack.admin("POST", "/faults", json={"api": "zendesk", "latency_ms": 0, "timeout_rate": 1.0,
                                         "timeout_seconds": 0.2})
    assert stack.get("/api/v2/users/me").status_code == 504


def test_an_applied_timeout_makes_the_change_then_answers_504(stack):
    """A real timeout can fall after the write: the caller sees 504, the ticket exists."""
    stack.admin("POST", "/faults", json={"api": "zendesk", "applied_timeout_rate": 1.0,
                                         "timeout_seconds": 0.2})
    started = time.monotonic()
    r = stack.post("/api/v2/tickets", {"ticket": {"subject": "lost answer",
                                                  "comment": {"body": "hello"}}})
    assert r.status_code == 504 and r.json()["error"] == "GatewayTimeout"
    assert time.monotonic() - started >= 0.2
    stack.admin("DELETE", "/faults")
    subjects = [t["subject"] for t in stack.get("/api/v2/tickets").json()["tickets"]]
    assert subjects.count("lost answer") == 1


def test_calls_are_counted_per_endpoint_template(stack):
    t = stack.new_ticket()
    stack.put(f"/api/v2/tickets/{t['id']}.json", {"ticket": {"status": "open"}})
    stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {"status": "pending"}})
    calls = stack.admin("GET", "/calls").json()["calls"]
    assert calls["zendesk POST /api/v2/tickets"] == 1
    assert calls["zendesk PUT /api/v2/tickets/{id}"] == 2
