"""A fake of Zendesk's bulk endpoints (bridge.ports.BulkTicketApi) over a FakeZendesk's state,
for handler tests of bulk writes (E6): each job does its work on the fake's tickets and users
when submitted, as the sandbox does, and reports `completed` with per-item results once the
test lets it (`hold_jobs`), shaped as Zendesk answers them and parsed by the real adapter."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from bridge.adapters.zendesk_bulk import parse_job
from bridge.domain.bulk import JobStatus
from bridge.errors import TicketClosed, TicketGone
from bridge.handlers.bulk_drain import BulkDeps, drain
from tests.fakes import FakeZendesk, Fallible

CAP_WORDS = "Record validation errors Ticket has reached the maximum of 5000 comments"


class FakeBulk(Fallible):
    def __init__(self, zendesk: FakeZendesk) -> None:
        super().__init__()
        self.zendesk = zendesk
        self.jobs: dict[str, dict[str, Any]] = {}
        self.hold_jobs = False              # True: jobs stay `working` until released
        self.full_tickets: set[int] = set()  # tickets that refuse every comment (the cap)
        self.items_sent: list[tuple[str, int]] = []   # (endpoint, items) per job
        self._ids = itertools.count(1)

    def update_many(self, tickets: list[dict[str, Any]]) -> str:
        return self._call("update_many", lambda: self._job("update", tickets, self._update))

    def create_many(self, tickets: list[dict[str, Any]]) -> str:
        return self._call("create_many", lambda: self._job("create", tickets, self._create))

    def create_or_update_many(self, users: list[dict[str, Any]]) -> str:
        return self._call("create_or_update_many",
                          lambda: self._job("users", users, self._user))

    def job_statuses(self, job_ids: list[str]) -> dict[str, JobStatus]:
        def carry_out() -> dict[str, JobStatus]:
            status = "working" if self.hold_jobs else "completed"
            return {j: parse_job({**self.jobs[j], "status": status}) for j in job_ids
                    if j in self.jobs}
        return self._call("job_statuses", carry_out)

    # --- the work of each item --------------------------------------------------------------
    def _job(self, endpoint: str, items: list[dict[str, Any]], work: Any) -> str:
        job_id = f"job{next(self._ids)}"
        self.items_sent.append((endpoint, len(items)))
        self.jobs[job_id] = {"id": job_id, "results": [work(i, item)
                                                       for i, item in enumerate(items)]}
        return job_id

    def _update(self, index: int, item: dict[str, Any]) -> dict[str, Any]:
        tid = int(item["id"])
        if tid in self.full_tickets:
            return {"id": tid, "action": "update", "success": False, "status": "Failed",
                    "errors": "RecordInvalid", "details": CAP_WORDS}
        try:
            self.zendesk._update(tid, item.get("comment"), item.get("status"),
                                 item.get("additional_tags"))
        except TicketClosed:
            return {"id": tid, "action": "update", "success": False, "status": "Failed",
                    "errors": "RecordInvalid",
                    "details": "Record validation errors Status: closed prevents ticket update"}
        except TicketGone:
            return {"id": tid, "action": "update", "success": False, "status": "Failed",
                    "errors": "RecordNotFound", "details": "Not found"}
        return {"id": tid, "action": "update", "success": True, "status": "Updated"}

    def _create(self, index: int, ticket: dict[str, Any]) -> dict[str, Any]:
        fields = {k: v for k, v in ticket.items() if k != "comment"}
        tid = self.zendesk.add_ticket(status=fields.pop("status", "new"), **fields)
        self.zendesk._comment(tid, ticket["comment"])
        # as Zendesk makes it (and the sandbox): through the API, described by its first comment
        self.zendesk.tickets[tid].update(description=ticket["comment"]["body"], via={
            "channel": "api", "source": {"from": {}, "to": {}, "rel": None}})
        return {"index": index, "id": tid}

    def _user(self, index: int, user: dict[str, Any]) -> dict[str, Any]:
        key = "email" if user.get("email") else "external_id"
        found = next((u for u in self.zendesk.users.values() if u.get(key) == user[key]), None)
        if found:
            return {"index": index, "id": found["id"], "action": "update", "status": "Updated",
                    "success": True}
        uid = self.zendesk.add_user(user["name"], **{key: user[key],
                                                     "phone": user.get("phone")})
        return {"index": index, "id": uid, "action": "create", "status": "Created",
                "success": True}


def drain_and_wake(drainer: BulkDeps, refs: list[str], run: Callable[[str], Any],
                   rounds: int) -> None:
    """What beat (the drainer) and release_due (the woken tasks: `run(ref)`) do in production,
    a second apart (a job is first asked about a second after its submit)."""
    for _ in range(rounds):
        drainer.clock.advance(1)     # type: ignore[attr-defined]
        drain(drainer)
        woken = sorted(drainer.store.due.holding(refs))
        drainer.store.due.take_due(float("inf"))
        for ref in woken:
            run(ref)
