"""Zendesk event-subscription webhooks from API and desk changes, signing, and retries.

Signatures are checked with `zendesk_support.signature_ok`, written in the test from Zendesk's
documented scheme; the sandbox's signing code is never imported.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from zendesk_support import ANA_ID, SECRET, signature_ok, stack_fixtures, wait_until

stack_server, stack = stack_fixtures()

EVENT_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def deliveries(stack) -> list[dict]:
    return stack.admin("GET", "/deliveries?source=zendesk").json()["deliveries"]


def test_api_ticket_creation_sends_signed_created_and_comment_added(stack):
    t = stack.new_ticket(tags=["sms"])
    stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {"comment": {
        "body": "more", "author_id": t["requester_id"]}}})
    hooks = stack.capture.wait_for(3)
    for h in hooks:
        assert signature_ok(h.headers, h.body)
        assert h.headers["Content-Type"] == "application/json"
        assert h.headers["X-Zendesk-Webhook-Id"] and h.headers["X-Zendesk-Webhook-Invocation-Id"]
        stamp = h.headers["X-Zendesk-Webhook-Signature-Timestamp"]
        assert STAMP.match(stamp)
        sent = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        assert abs(sent - time.time()) < 300
    [created] = stack.capture.events("ticket.created")  # delivery is unordered, as Zendesk's
    assert created["event"] == {} and created["subject"] == f"zen:ticket:{t['id']}"
    assert EVENT_TIME.match(created["time"]) and created["zendesk_event_version"] == "2022-11-06"
    assert isinstance(created["account_id"], int)
    d = created["detail"]
    assert d["id"] == str(t["id"]) and d["status"] == "NEW" and d["tags"] == ["sms"]
    assert d["requester_id"] == str(t["requester_id"]) and d["via"] == {"channel": "web_service"}
    assert d["external_id"] is None and d["actor_id"] == "9003"
    by_body = {e["event"]["comment"]["body"]: e["event"]["comment"]
               for e in stack.capture.events("ticket.comment_added")}
    assert by_body["Where is my order?"]["author"]["is_staff"] is True  # the API user wrote it
    comment = by_body["more"]
    assert comment["html_body"] == "<p>more</p>" and comment["is_public"] is True
    assert comment["author"] == {"id": str(t["requester_id"]), "is_staff": False,
                                 "name": "Alice Ames"}
    comments = stack.get(f"/api/v2/tickets/{t['id']}/comments").json()["comments"]
    assert comment["id"] == str(comments[-1]["id"])
    assert len({h.json["id"] for h in hooks}) == 3


def test_status_change_event_carries_previous_and_current_upper_case(stack):
    t = stack.new_ticket()
    stack.capture.wait_for(2)
    stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {
        "comment": {"body": "Solved, thanks", "author_id": ANA_ID}, "status": "solved"}})
    stack.capture.wait_for(4)
    [changed] = stack.capture.events("ticket.status_changed")
    assert len(stack.capture.events("ticket.comment_added")) == 2
    assert changed["event"] == {"previous": "NEW", "current": "SOLVED"}
    assert changed["detail"]["status"] == "SOLVED"


def test_desk_agent_comment_is_staff_with_attachments_and_html(stack):
    t = stack.new_ticket()
    r = stack.admin("POST", f"/zendesk/tickets/{t['id']}/comments", json={
        "author_id": ANA_ID, "body": "Label attached <b>now</b>",
        "attachments": [{"file_name": "label.pdf", "content_url": "https://x.test/label.pdf"}]})
    assert r.status_code == 201
    hooks = stack.capture.wait_for(4)   # created, first comment, this comment, new -> open
    [hook] = [h for h in hooks if b"Label attached" in h.body]
    event = hook.json
    assert event["type"].endswith("ticket.comment_added") and signature_ok(hook.headers, hook.body)
    assert event["event"]["comment"]["author"] == {"id": str(ANA_ID), "is_staff": True,
                                                   "name": "Ana Agent"}
    assert event["event"]["comment"]["html_body"] == "<p>Label attached &lt;b&gt;now&lt;/b&gt;</p>"
    stored = stack.admin("GET", f"/zendesk/tickets/{t['id']}").json()["ticket"]["comments"][-1]
    assert stored["attachments"][0]["file_name"] == "label.pdf"
    assert stored["attachments"][0]["content_type"] == "application/pdf"
    assert stored["id"] == int(event["event"]["comment"]["id"])


def test_desk_web_form_ticket_fires_created_for_a_new_customer(stack):
    r = stack.admin("POST", "/zendesk/tickets", json={
        "requester_email": "new@example.com", "subject": "Hello", "body": "From the web form"})
    assert r.status_code == 201
    ticket = r.json()["ticket"]
    assert ticket["via"]["channel"] == "web" and ticket["comments"][0]["public"] is True
    stack.capture.wait_for(2)
    [created], [added] = stack.capture.events("ticket.created"), \
        stack.capture.events("ticket.comment_added")
    assert created["detail"]["via"] == {"channel": "web_form"}
    assert added["event"]["comment"]["author"]["is_staff"] is False


def test_end_user_reply_in_the_desk_reopens_a_solved_ticket(stack):
    t = stack.new_ticket()
    stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {"status": "solved"}})
    r = stack.admin("POST", f"/zendesk/tickets/{t['id']}/comments", json={
        "author_id": t["requester_id"], "body": "not fixed"})
    assert r.json()["ticket"]["status"] == "open"
    stack.capture.wait_for(5)
    # deliveries are unordered (as Zendesk's): the reopening is one of the status changes
    assert {"previous": "SOLVED", "current": "OPEN"} in [
        e["event"] for e in stack.capture.events("ticket.status_changed")]


def test_silent_auto_close_sends_nothing_but_closes(stack):
    t = stack.new_ticket()
    stack.admin("POST", f"/zendesk/tickets/{t['id']}/status",
                json={"status": "solved", "actor_id": ANA_ID}).raise_for_status()
    stack.capture.wait_for(3)
    r = stack.admin("POST", f"/zendesk/tickets/{t['id']}/status",
                    json={"status": "closed", "silent": True})
    assert r.json()["ticket"]["status"] == "closed"
    stack.settle()
    time.sleep(0.3)
    assert len(stack.capture.hooks) == 3 and len(deliveries(stack)) == 3
    assert stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {"status": "open"}}
                     ).status_code == 422


def test_outbox_retries_409_and_signs_each_attempt(stack):
    stack.capture.answer_next(409, 409, match=b"ticket.created")
    stack.new_ticket()
    hooks = stack.capture.wait_for(4)
    firsts = [h for h in hooks if h.json["type"].endswith("ticket.created")]
    assert len(firsts) == 3 and len({h.json["id"] for h in firsts}) == 1
    assert all(signature_ok(h.headers, h.body) for h in firsts)
    stack.settle()
    created = deliveries(stack)[0]
    assert "ticket.created" in created["body"]
    assert [a["status"] for a in created["attempts"]] == [409, 409, 200]
    assert created["status"] == "delivered"


def test_outbox_honours_short_retry_after_and_drops_long_ones(stack):
    stack.capture.answer_next((429, {"Retry-After": "1"}), match=b"ticket.created")
    stack.capture.answer_next((503, {"Retry-After": "120"}), match=b"ticket.comment_added")
    stack.new_ticket()
    stack.settle()
    retried, dropped = deliveries(stack)  # created, then comment_added
    assert [a["status"] for a in retried["attempts"]] == [429, 200]
    assert retried["attempts"][1]["at"] - retried["attempts"][0]["at"] >= 0.9
    assert [a["status"] for a in dropped["attempts"]] == [503]
    assert dropped["status"] == "dropped"


def test_outbox_drops_other_errors_without_retry(stack):
    stack.capture.answer_next(500, 400)
    stack.new_ticket()
    stack.settle()
    assert all(len(d["attempts"]) == 1 and d["status"] == "dropped" for d in deliveries(stack))
    assert len(stack.capture.hooks) == 2


def test_redelivery_sends_the_same_body_with_a_fresh_signature(stack):
    stack.new_ticket()
    stack.capture.wait_for(2)
    stack.settle()
    original = deliveries(stack)[0]
    [first] = [h for h in stack.capture.hooks if h.body == original["body"].encode()]
    time.sleep(1.05)  # the signature timestamp has one-second resolution
    r = stack.admin("POST", f"/deliveries/{original['id']}/redeliver")
    assert r.status_code == 202 and r.json()["redelivery_of"] == original["id"]
    again = stack.capture.wait_for(3)[-1]
    assert again.body == first.body and signature_ok(again.headers, again.body)
    assert again.headers["X-Zendesk-Webhook-Signature-Timestamp"] != \
        first.headers["X-Zendesk-Webhook-Signature-Timestamp"]
    assert stack.admin("POST", "/deliveries/999/redeliver").status_code == 404


def test_secret_and_url_come_from_admin_config(stack):
    stack.admin("POST", "/config", json={"zendesk_webhook_secret": "rotated"})
    stack.new_ticket()
    h = stack.capture.wait_for(1)[0]
    assert signature_ok(h.headers, h.body, "rotated") and not signature_ok(h.headers, h.body,
                                                                           SECRET)
    stack.settle()
    stack.admin("POST", "/config", json={"zendesk_webhook_url": None})
    before = len(deliveries(stack))
    stack.new_ticket()
    time.sleep(0.2)
    assert len(deliveries(stack)) == before
    wait_until(lambda: len(stack.capture.hooks) == 2, 2, "only the first ticket's hooks")


def test_a_tags_change_fires_tags_changed_with_the_tags_after_it(stack):
    """`detail.tags` holds the tags after the change [doc]; the event object's `tags_added` /
    `tags_removed` are the sandbox's [assumed] shape (Zendesk shows no payload for it)."""
    t = stack.new_ticket(tags=["sms", "sms_optout_request"])
    stack.capture.wait_for(2)
    assert stack.capture.events("ticket.tags_changed") == []     # not fired at creation
    stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {"additional_tags": ["vip"],
                                                         "remove_tags": ["sms_optout_request"]}})
    stack.capture.wait_for(3)
    [changed] = stack.capture.events("ticket.tags_changed")
    assert changed["detail"]["tags"] == ["sms", "vip"]
    assert changed["event"] == {"tags_added": ["vip"], "tags_removed": ["sms_optout_request"]}
    stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {"additional_tags": ["vip"]}})  # no change
    stack.put(f"/api/v2/tickets/{t['id']}", {"ticket": {"status": "open"}})
    stack.capture.wait_for(4)
    stack.settle()
    assert len(stack.capture.events("ticket.tags_changed")) == 1


def test_an_agent_tags_a_ticket_in_the_desk(stack):
    t = stack.new_ticket(tags=["sms"])
    r = stack.admin("POST", f"/zendesk/tickets/{t['id']}/tags",
                    json={"add": ["sms_send_now"], "actor_id": ANA_ID})
    assert r.status_code == 200 and r.json()["ticket"]["tags"] == ["sms", "sms_send_now"]
    [hook] = [h for h in stack.capture.wait_for(3) if h.json["type"].endswith("tags_changed")]
    assert signature_ok(hook.headers, hook.body)
    assert hook.json["detail"]["tags"] == ["sms", "sms_send_now"]
    assert hook.json["detail"]["actor_id"] == str(ANA_ID)
    assert stack.admin("POST", f"/zendesk/tickets/{t['id']}/tags", json={}).status_code == 400
