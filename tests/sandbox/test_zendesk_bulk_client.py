"""The bridge's bulk client (adapters/zendesk_bulk.py, E6 #11) against the sandbox over HTTP:
each job's id comes back at once, job_statuses/show_many follows it to `completed`, and each
item's result is parsed as the bridge acts on it (made/matched users, made tickets by index, a
closed ticket's refusal told apart from others); the 30-job limit and our own budget raise
RateLimited before anything is created."""

from __future__ import annotations

import pytest
from zendesk_support import EMAIL, TOKEN, stack_fixtures, wait_until

from bridge.adapters.zendesk import ZendeskClient
from bridge.adapters.zendesk_bulk import ZendeskBulk
from bridge.domain.bulk import JobStatus
from bridge.errors import RateLimited

stack_server, stack = stack_fixtures()


def client(base: str, gate=None) -> ZendeskBulk:  # noqa: ANN001 - a test's gate
    return ZendeskBulk(ZendeskClient(base, email=EMAIL, api_token=TOKEN, gate=gate).http)


def finished(bulk: ZendeskBulk, job_id: str) -> JobStatus:
    def done() -> JobStatus | None:
        job = bulk.job_statuses([job_id]).get(job_id)
        return job if job is not None and job.finished else None
    return wait_until(done, timeout=10, what="the job to finish")


def test_requesters_then_tickets_then_comments_through_jobs(stack) -> None:
    bulk = client(stack.base)
    known = stack.new_ticket()["requester_id"]                  # alice@example.com exists
    users = finished(bulk, bulk.create_or_update_many([
        {"name": "Bea", "external_id": "sms:+15005559001", "phone": "+15005559001"},
        {"name": "Alice", "email": "alice@example.com"}]))
    assert users.status == "completed"
    assert [(r.index, r.created) for r in users.results] == [(0, True), (1, False)]
    assert users.results[1].id == known
    bea = users.results[0].id
    made = finished(bulk, bulk.create_many([
        {"subject": "SMS", "requester_id": bea, "tags": ["sms"],
         "comment": {"body": "first text", "public": True, "author_id": bea}}]))
    [ticket] = [r.id for r in made.results]
    assert ticket is not None
    closed = stack.new_ticket()["id"]
    assert stack.put(f"/api/v2/tickets/{closed}", {"ticket": {"status": "closed"}}).ok
    updated = finished(bulk, bulk.update_many([
        {"id": ticket, "comment": {"body": "second", "public": True, "author_id": bea},
         "status": "open", "additional_tags": ["x"]},
        {"id": closed, "comment": {"body": "too late", "public": True}}]))
    assert [(r.success, r.refused) for r in updated.results] == [(True, ""), (False, "closed")]
    comments = stack.get(f"/api/v2/tickets/{ticket}/comments").json()["comments"]
    assert [(c["body"], c["author_id"]) for c in comments] == [("first text", bea),
                                                               ("second", bea)]
    assert "x" in stack.get(f"/api/v2/tickets/{ticket}").json()["ticket"]["tags"]


def test_the_job_limit_and_our_budget_raise_rate_limited_and_create_nothing(stack) -> None:
    bulk = client(stack.base)
    ticket = stack.new_ticket()["id"]
    for _ in range(30):
        bulk.update_many([{"id": ticket, "additional_tags": ["bulk"]}])
    with pytest.raises(RateLimited) as limit:
        bulk.update_many([{"id": ticket, "additional_tags": ["one-too-many"]}])
    assert not limit.value.local and limit.value.retry_after > 0
    spent = client(stack.base, gate=lambda endpoint: 7.0)
    with pytest.raises(RateLimited) as budget:
        spent.create_many([{"subject": "x", "comment": {"body": "y"}}])
    assert budget.value.local
    assert stack.get("/api/v2/tickets").json()["count"] == 1


def test_tickets_with_people_reads_many_as_one_read_gives_each(stack) -> None:
    """E6: the shared read behind ticket metrics (tickets/show_many?include=users,groups)
    gives each ticket with its own users and group, as tickets/{id}?include=... does; an id
    that names no ticket (deleted) is left out."""
    zendesk = ZendeskClient(stack.base, email=EMAIL, api_token=TOKEN)
    ids = [stack.new_ticket()["id"],
           stack.new_ticket(requester={"name": "Cy", "email": "cy@example.com"})["id"]]
    gone = max(ids) + 1000
    many = zendesk.tickets_with_people([*ids, gone])
    assert sorted(many) == sorted(ids)
    for tid in ids:
        ticket, users, groups = zendesk.ticket_with_people(tid)
        assert many[tid][0]["id"] == ticket["id"] and many[tid][0]["subject"] == ticket["subject"]
        assert many[tid][1] == users and many[tid][2] == groups
        assert ticket["requester_id"] in many[tid][1]
