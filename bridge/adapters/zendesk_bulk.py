"""Zendesk's bulk writes (E6, #11): `tickets/update_many`, `tickets/create_many`,
`users/create_or_update_many` and `job_statuses/show_many`, through the same HTTP funnel (and so
the same budget gate, E3) as the single calls in zendesk.py.

Each write answers at once with a queued `job_status`; the work is done in the background and
`results` lists each item once the job is `completed` (API-NOTES "Bulk writes"). This module
only sends and parses; what a result means for a customer's text is decided by the caller
(bridge/handlers/bulk_results.py).

[assumed] — every undocumented detail of these endpoints, in this one place:
- a per-ticket `comment.author_id` and `additional_tags` inside `update_many` work as in PUT;
- an `update_many` job takes one grant of the account budget and one of the Update Ticket
  budget (budgets.py, endpoint "PUT tickets/update_many");
- a refused item names its reason in `errors`/`details`; a closed ticket's carries Zendesk's
  "closed prevents ticket update", a deleted one's "RecordNotFound"/"not found";
- the 30-job limit answers 429 (funnel: RateLimited, nothing created).
"""

from __future__ import annotations

from typing import Any

from bridge.adapters.http import Funnel
from bridge.adapters.zendesk import CLOSED_PHRASE
from bridge.domain.bulk import FINISHED, MAX_ITEMS, ItemResult, JobStatus

UPDATE_MANY = "PUT tickets/update_many"
CREATE_MANY = "POST tickets/create_many"
USERS_MANY = "POST users/create_or_update_many"
JOBS_MANY = "GET job_statuses/show_many"


class ZendeskBulk:
    """The bulk endpoints on a Zendesk client's funnel (`ZendeskBulk(client.http)`)."""

    def __init__(self, http: Funnel) -> None:
        self.http = http

    def update_many(self, tickets: list[dict[str, Any]]) -> str:
        """Each `{"id": ..., <changes>}` its own change; answers the job id."""
        return self._submit("PUT", "/api/v2/tickets/update_many", UPDATE_MANY, "tickets", tickets)

    def create_many(self, tickets: list[dict[str, Any]]) -> str:
        return self._submit("POST", "/api/v2/tickets/create_many", CREATE_MANY, "tickets",
                            tickets)

    def create_or_update_many(self, users: list[dict[str, Any]]) -> str:
        return self._submit("POST", "/api/v2/users/create_or_update_many", USERS_MANY, "users",
                            users)

    def job_statuses(self, job_ids: list[str]) -> dict[str, JobStatus]:
        """The jobs Zendesk still knows (statuses live an hour), by id; up to 100 ids."""
        if not job_ids:
            return {}
        doc = self.http.request("GET", "/api/v2/job_statuses/show_many", JOBS_MANY,
                                params={"ids": ",".join(job_ids[:MAX_ITEMS])}).json()
        return {str(j["id"]): parse_job(j) for j in doc.get("job_statuses") or []}

    def _submit(self, method: str, path: str, endpoint: str, root: str,
                items: list[dict[str, Any]]) -> str:
        if not 0 < len(items) <= MAX_ITEMS:
            raise ValueError(f"a bulk job takes 1..{MAX_ITEMS} items, not {len(items)}")
        resp = self.http.request(method, path, endpoint, json={root: items})
        return str(resp.json()["job_status"]["id"])


def parse_job(doc: dict[str, Any]) -> JobStatus:
    """A job_status object: update results carry `id`+`success` (no index: listed in the
    order sent), create results `index`+`id` or `index`+`error`."""
    status = str(doc.get("status") or "queued").lower()
    results = doc.get("results") or [] if status in FINISHED else []
    return JobStatus(str(doc["id"]), status,
                     tuple(_item(i, r) for i, r in enumerate(results) if isinstance(r, dict)))


def _item(position: int, r: dict[str, Any]) -> ItemResult:
    error = " ".join(str(r.get(k)) for k in ("error", "errors", "details") if r.get(k))
    success = bool(r.get("success", not error)) and not error and r.get("id") is not None
    action = str(r.get("action") or r.get("status") or "").lower()
    return ItemResult(index=int(r.get("index", position)),
                      id=int(r["id"]) if r.get("id") is not None and success else None,
                      success=success, created=action in ("create", "created"),
                      refused="" if success else _refusal(error), error=error)


def _refusal(error: str) -> str:
    text = error.lower()
    if CLOSED_PHRASE in text:
        return "closed"
    if "recordnotfound" in text or "not found" in text:
        return "gone"
    return "other"
