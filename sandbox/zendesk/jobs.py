"""Zendesk's bulk endpoints and their background jobs [doc: API-NOTES "Bulk writes"]:
`PUT /api/v2/tickets/update_many`, `POST /api/v2/tickets/create_many`,
`POST /api/v2/users/create_or_update_many` (up to 100 items each) answer at once with a
`job_status`; `GET /api/v2/job_statuses/{id}` and `/job_statuses/show_many?ids=` follow it
(queued → working → completed, per-item `results`, kept an hour). (`GET
/api/v2/tickets/show_many`, a plain read, is with the other ticket reads in api.py.)

[simplified] The work is done when the job is accepted (its webhooks go out then); the status
reports `queued`, then `working`, then `completed` as `JOB_SECONDS` pass, so a client that polls
too early sees it unfinished. [assumed] 30 jobs queued or working per account: the 31st gets
429 + Retry-After (not documented). [assumed] Each ticket an update_many job changes counts as
one update against that ticket's own limit (30 per 10 minutes), checked by the caller.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import request

from sandbox.zendesk.model import User, ZendeskError, not_found
from sandbox.zendesk.webhooks import publish

Answer = tuple[int, dict[str, Any] | None, dict[str, str]]
MAX_ITEMS = 100
MAX_JOBS = 30
PER_TICKET = "zendesk:ticket_updates"
KEEP_SECONDS = 3600
QUEUED_SECONDS, JOB_SECONDS = 0.2, 1.0


@dataclass
class Job:
    id: str
    job_type: str
    at: float
    results: list[dict[str, Any]] = field(default_factory=list)

    def status(self, now: float) -> str:
        age = now - self.at
        return "queued" if age < QUEUED_SECONDS else "working" if age < JOB_SECONDS \
            else "completed"

    def as_json(self, base: str, now: float) -> dict[str, Any]:
        status = self.status(now)
        done = status == "completed"
        return {"id": self.id, "url": f"{base}api/v2/job_statuses/{self.id}.json",
                "status": status, "job_type": self.job_type, "total": len(self.results),
                "progress": len(self.results) if done else 0,
                "message": f"Completed at {now:.0f}" if done else None,
                "results": self.results if done else None}


def ticket_update_allowed(sb: Any, ticket_id: int) -> None:
    """Zendesk's Update Ticket limit per ticket [doc: 30 updates per 10 minutes]: a window per
    ticket, shaped like the `zendesk:ticket_updates` bucket; beyond it, 429 + Retry-After."""
    template = sb.limiter.limits.get(PER_TICKET)
    if not template:
        return
    name = f"{PER_TICKET}:{ticket_id}"
    if name not in sb.limiter.limits:
        sb.limiter.set_limits(name, template)
    wait, _, _ = sb.limiter.check(name)
    if wait is not None:
        raise ZendeskError(429, {"error": "TooManyRequests",
                                 "description": "Too many updates to this ticket"},
                           {"Retry-After": str(math.ceil(wait))})


def _jobs(sb: Any) -> dict[str, Job]:
    state = sb.zendesk
    if not hasattr(state, "jobs") or state.jobs is None:
        state.jobs = {}
    now = state.now()
    for jid in [j for j, job in state.jobs.items() if now - job.at > KEEP_SECONDS]:
        del state.jobs[jid]
    return state.jobs


def _items(key: str) -> list[dict[str, Any]]:
    data = request.get_json(silent=True)
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise ZendeskError(400, {"error": "InvalidParameter",
                                 "description": f"expected a non-empty '{key}' array"})
    if len(items) > MAX_ITEMS:
        raise ZendeskError(400, {"error": "TooManyValues",
                                 "description": f"at most {MAX_ITEMS} {key} per request"})
    return items


def _start(sb: Any, job_type: str) -> Job:
    jobs, now = _jobs(sb), sb.zendesk.now()
    if sum(1 for j in jobs.values() if j.status(now) != "completed") >= MAX_JOBS:
        raise ZendeskError(429, {"error": "TooManyJobs",
                                 "description": f"{MAX_JOBS} jobs are queued or running"})
    job = Job(secrets.token_hex(16), job_type, now)
    jobs[job.id] = job
    return job


def _accepted(sb: Any, job: Job) -> Answer:
    return 200, {"job_status": job.as_json(request.host_url, sb.zendesk.now())}, {}


def _error_of(e: ZendeskError) -> str:
    return str(e.body.get("error") or e.body.get("description") or e.status)


def _details_of(e: ZendeskError) -> str:
    """The refusal in words: the description and, for a RecordInvalid, each field's reason
    (e.g. "Status: closed prevents ticket update") [assumed: the words a PUT's 422 gives]."""
    reasons = [str(d.get("description")) for ds in (e.body.get("details") or {}).values()
               if isinstance(ds, list) for d in ds if isinstance(d, dict)]
    return " ".join([str(e.body.get("description", "")), *reasons]).strip()


def update_many(sb: Any, actor: User) -> Answer:
    """Each ticket its own changes, in order; a refused ticket fails alone [doc]."""
    items = _items("tickets")
    job = _start(sb, "bulk_update")
    for item in items:
        tid = item.get("id")
        try:
            ticket_update_allowed(sb, int(tid))
            ticket, _, events = sb.zendesk.update_ticket(
                int(tid), {k: v for k, v in item.items() if k != "id"}, actor, "api")
            publish(sb, events)
            job.results.append({"id": ticket.id, "action": "update", "success": True,
                                "status": "Updated"})
        except (ZendeskError, TypeError, ValueError) as e:
            error = _error_of(e) if isinstance(e, ZendeskError) else "InvalidParameter"
            job.results.append({"id": tid, "action": "update", "success": False,
                                "status": "Failed", "errors": error,
                                "details": _details_of(e)
                                if isinstance(e, ZendeskError) else str(e)})
    return _accepted(sb, job)


def create_many(sb: Any, actor: User) -> Answer:
    items = _items("tickets")
    job = _start(sb, "bulk_create")
    for index, item in enumerate(items):
        try:
            ticket, events = sb.zendesk.create_ticket(item, actor, "api")
            publish(sb, events)
            job.results.append({"index": index, "id": ticket.id})
        except ZendeskError as e:
            job.results.append({"index": index, "error": _error_of(e),
                                "details": e.body.get("description", "")})
    return _accepted(sb, job)


def create_or_update_many(sb: Any, actor: User) -> Answer:
    items = _items("users")
    job = _start(sb, "bulk_create_or_update")
    for index, item in enumerate(items):
        try:
            user, created = sb.zendesk.create_or_update_user(item)
            job.results.append({"index": index, "id": user.id,
                                "action": "create" if created else "update",
                                "status": "Created" if created else "Updated",
                                "success": True})
        except ZendeskError as e:
            job.results.append({"index": index, "error": _error_of(e),
                                "details": e.body.get("description", ""), "success": False})
    return _accepted(sb, job)


def show_job(sb: Any, actor: User, obj_id: str) -> Answer:
    job = _jobs(sb).get(obj_id)
    if job is None:
        raise not_found()
    return 200, {"job_status": job.as_json(request.host_url, sb.zendesk.now())}, {}


def show_many_jobs(sb: Any, actor: User) -> Answer:
    ids = [i for i in (request.args.get("ids") or "").split(",") if i]
    jobs, now = _jobs(sb), sb.zendesk.now()
    return 200, {"job_statuses": [jobs[i].as_json(request.host_url, now)
                                  for i in ids if i in jobs]}, {}


TICKET_ROUTES = [("PUT", "/api/v2/tickets/update_many", update_many),
                 ("POST", "/api/v2/tickets/create_many", create_many),
                 ("POST", "/api/v2/users/create_or_update_many", create_or_update_many),
                 ("GET", "/api/v2/job_statuses/show_many", show_many_jobs)]
JOB_ROUTES = [("GET", "/api/v2/job_statuses/{id}", show_job)]
