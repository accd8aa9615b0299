"""E1 for a text that opens a ticket: the bridge's inbound handler, its real Zendesk client and
the sandbox over HTTP, with the worker "dying" at each point between the POST and the event
being marked done. A re-run must leave one ticket holding the text once (found by the e2e
crash test: a re-run used to find the new ticket and add the text to it a second time), and the
ticket's first comment must be known as the bridge's own even if no answer ever came (A2)."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest
import requests
from zendesk_support import EMAIL, TOKEN, stack_fixtures

from bridge.adapters.klaviyo import KlaviyoClient
from bridge.adapters.store import Store
from bridge.adapters.zendesk import ZendeskClient
from bridge.domain.model import Ticket
from bridge.domain.sms_rules import Policy
from bridge.errors import RateLimited
from bridge.handlers import inbound_writes
from bridge.handlers.sms_inbound import InboundDeps, process_text

stack_server, stack = stack_fixtures()

PHONE, BRAND = "+15005550177", "+18005550100"
PREPARED = {"phone": PHONE, "brand": BRAND, "body": "Where is order 1001?",
            "subject": "SMS from +1 *** *** 0177", "name": "Gus Grant",
            "email": "gus@example.com"}


class WorkerDied(Exception):
    """Stands for SIGKILL: nothing after the point of death runs."""


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def deps_for(base: str, store: Store, clock: Clock) -> InboundDeps:
    zendesk = ZendeskClient(base, email=EMAIL, api_token=TOKEN)
    klaviyo = KlaviyoClient(base, api_key="unused", revision="2025-10-15")
    return InboundDeps(store=store, zendesk=zendesk, klaviyo=klaviyo, policy=Policy(),
                       clock=clock, sleep=lambda s: None)


def sms_tickets(base: str) -> list[dict[str, Any]]:
    s = requests.Session()
    s.auth = (f"{EMAIL}/token", TOKEN)
    r = s.get(f"{base}/api/v2/tickets", params={"external_id": f"zkb-sms:{PHONE}:{BRAND}"},
              timeout=10)
    r.raise_for_status()
    out = []
    for t in r.json()["tickets"]:
        comments = s.get(f"{base}/api/v2/tickets/{t['id']}/comments", timeout=10).json()
        out.append({**t, "bodies": [c["body"] for c in comments["comments"]]})
    return out


def run(ref: str, deps: InboundDeps) -> int:
    done = process_text(ref, {"prepared": dict(PREPARED)}, deps)
    assert done.outcome == "applied"
    return int(done.fields["ticket_id"])


@pytest.mark.parametrize("dies_at", ["after_post", "after_caching_the_conversation"])
def test_a_rerun_after_dying_past_the_post_adds_nothing(stack, monkeypatch, dies_at) -> None:
    store, clock = Store(fakeredis.FakeRedis()), Clock()
    deps = deps_for(stack.base, store, clock)
    real_put = store.conversations.put_conversation

    def put_then_die(conv: Any) -> None:
        if conv.ticket_id is None:          # the recovered conversation, before the POST
            return real_put(conv)
        if dies_at == "after_caching_the_conversation":
            real_put(conv)
        raise WorkerDied

    monkeypatch.setattr(store.conversations, "put_conversation", put_then_die)
    with pytest.raises(WorkerDied):
        run("klaviyo:ev-1", deps)
    monkeypatch.setattr(store.conversations, "put_conversation", real_put)
    ticket_id = run("klaviyo:ev-1", deps)
    [ticket] = sms_tickets(stack.base)
    assert ticket["id"] == ticket_id
    assert ticket["bodies"] == [PREPARED["body"]]
    assert store.conversations.get_conversation(PHONE, BRAND).ticket_id == ticket_id


@pytest.mark.parametrize("rerun_after_hours", [0.1, 3.0])
def test_a_rerun_after_the_answer_was_lost_finds_the_ticket_the_post_made(
        stack, monkeypatch, rerun_after_hours) -> None:
    """Inside Zendesk's 2 h idempotency window the POST is replayed with its key; after it,
    the ticket is found among the conversation's tickets by its first comment."""
    store, clock = Store(fakeredis.FakeRedis()), Clock()
    deps = deps_for(stack.base, store, clock)
    real_create = deps.zendesk.create_ticket
    calls: list[str] = []

    def lands_then_dies(ticket: dict[str, Any], idempotency_key: str) -> Ticket:
        calls.append(idempotency_key)
        real_create(ticket, idempotency_key=idempotency_key)
        raise WorkerDied

    monkeypatch.setattr(deps.zendesk, "create_ticket", lands_then_dies)
    with pytest.raises(WorkerDied):
        run("klaviyo:ev-2", deps)
    [first] = sms_tickets(stack.base)
    requester = first["requester_id"]
    # The first comment's webhook may arrive now: it is recognised as the bridge's own (A2).
    assert store.ledger.was_posted(requester, PREPARED["body"])

    def counting_create(ticket: dict[str, Any], idempotency_key: str) -> Ticket:
        calls.append(idempotency_key)
        return real_create(ticket, idempotency_key=idempotency_key)

    monkeypatch.setattr(deps.zendesk, "create_ticket", counting_create)
    clock.now += rerun_after_hours * 3600
    ticket_id = run("klaviyo:ev-2", deps)
    [ticket] = sms_tickets(stack.base)
    assert ticket_id == ticket["id"] == first["id"]
    assert ticket["bodies"] == [PREPARED["body"]]
    replayed = rerun_after_hours * 3600 < inbound_writes.ZENDESK_IDEMPOTENCY_SECONDS
    assert calls == ["zkb-klaviyo:ev-2-create"] * (2 if replayed else 1)


def test_a_creation_that_never_landed_is_made_on_the_rerun(stack, monkeypatch) -> None:
    store, clock = Store(fakeredis.FakeRedis()), Clock()
    deps = deps_for(stack.base, store, clock)
    real_create = deps.zendesk.create_ticket

    def dies_before_sending(ticket: dict[str, Any], idempotency_key: str) -> Ticket:
        raise WorkerDied

    monkeypatch.setattr(deps.zendesk, "create_ticket", dies_before_sending)
    with pytest.raises(WorkerDied):
        run("klaviyo:ev-3", deps)
    assert sms_tickets(stack.base) == []
    monkeypatch.setattr(deps.zendesk, "create_ticket", real_create)
    clock.now += 3 * 3600              # past the idempotency window: looked for, then created
    ticket_id = run("klaviyo:ev-3", deps)
    [ticket] = sms_tickets(stack.base)
    assert ticket["id"] == ticket_id and ticket["bodies"] == [PREPARED["body"]]


def test_a_comment_held_back_by_the_budget_is_sent_on_the_retry_without_a_check(
        stack, monkeypatch) -> None:
    """Nothing was written, so the retry does not read the ticket's comments first (under a
    backlog that read would double the calls per text)."""
    store, clock = Store(fakeredis.FakeRedis()), Clock()
    deps = deps_for(stack.base, store, clock)
    run("klaviyo:first", deps)
    refused = {"PUT tickets/{id}"}
    deps.zendesk.http.gate = lambda endpoint: 5.0 if endpoint in refused else 0.0
    follow_up = {"prepared": {**PREPARED, "body": "Any news?"}}
    with pytest.raises(RateLimited):
        process_text("klaviyo:second", follow_up, deps)
    refused.clear()
    stack.admin("POST", "/calls/reset")
    process_text("klaviyo:second", follow_up, deps)
    calls = stack.admin("GET", "/calls").json()["calls"]
    assert calls == {"zendesk PUT /api/v2/tickets/{id}": 1}
    [ticket] = sms_tickets(stack.base)
    assert ticket["bodies"] == [PREPARED["body"], "Any news?"]


def test_the_client_reads_a_150_comment_ticket_newest_first_a_page_at_a_time(stack) -> None:
    """Crash recovery's read (#14): newest first, cursor pages of 100 fetched only as read."""
    requester = stack.post("/api/v2/users/create_or_update",
                           {"user": {"name": "Long", "external_id": "sms:+15005550177"}}
                           ).json()["user"]["id"]
    tid = stack.post("/api/v2/tickets", {"ticket": {
        "comment": {"body": "text 0", "author_id": requester},
        "requester_id": requester}}).json()["ticket"]["id"]
    for i in range(1, 150):
        stack.put(f"/api/v2/tickets/{tid}", {"ticket": {"comment": {
            "body": f"text {i}", "public": True, "author_id": requester}}})
    calls: list[str] = []
    client = ZendeskClient(stack.base, email=EMAIL, api_token=TOKEN,
                           observe=lambda api, endpoint, status: calls.append(endpoint))
    newest = next(iter(client.comments_newest_first(tid)))
    assert newest.body == "text 149" and len(calls) == 1
    bodies = [c.body for c in client.comments_newest_first(tid)]
    assert bodies == [f"text {i}" for i in range(149, -1, -1)] and len(calls) == 3
