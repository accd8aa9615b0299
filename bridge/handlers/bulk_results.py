"""What a finished bulk job says about each of its texts (E6, #11): pure mapping from a job's
per-item results to each staged item's answer (`{"state", "result"}`), read later by the text's
own task (handlers/bulk_inbound.py).

- update_many results are matched by ticket id (each ticket once per job), create results by
  index;
- an item refused because its ticket is closed is `closed` (the text is decided again: a
  follow-up ticket, S4), one whose ticket was deleted `gone`;
- any other refusal, a missing result, or a job that `failed` / was `killed` is a `handback`:
  the text is applied by single calls, which check Zendesk before writing (a failed job may
  have done part of its work) and send a permanent refusal to failed jobs as usual.
"""

from __future__ import annotations

from typing import Any

from bridge.domain.bulk import UPDATES, ItemResult, JobStatus

HANDBACK = {"state": "handback"}


def answers(batch: dict[str, Any], items: list[dict[str, Any] | None],
            job: JobStatus | None) -> dict[str, dict[str, Any]]:
    """Each of the batch's refs -> its answer (`job` None: the job is unknown, hand back)."""
    refs: list[str] = list(batch["refs"])
    if job is None or job.status != "completed":
        return {ref: dict(HANDBACK) for ref in refs}
    if batch["kind"] in UPDATES:
        by_ticket = {r.id: r for r in job.results if r.id is not None}
        by_ticket |= {_ticket_of(i): r for i, r in _by_position(job, items) if not r.success}
        return {ref: _answer(by_ticket.get(_ticket_of(item)), batch["kind"])
                for ref, item in zip(refs, items, strict=True)}
    by_index = {r.index: r for r in job.results}
    return {ref: _answer(by_index.get(i), batch["kind"]) for i, ref in enumerate(refs)}


def _by_position(job: JobStatus, items: list[dict[str, Any] | None],
                 ) -> list[tuple[dict[str, Any] | None, ItemResult]]:
    """A refused update has no ticket id in some answers: its position in the job names it."""
    return [(items[r.index], r) for r in job.results if 0 <= r.index < len(items)]


def _ticket_of(item: dict[str, Any] | None) -> int | None:
    if item is None:
        return None
    return int((item.get("payload") or {}).get("ticket_id") or 0) or None


def _answer(result: ItemResult | None, kind: str) -> dict[str, Any]:
    if result is None:
        return dict(HANDBACK)
    if result.success and result.id is not None:
        return {"state": "done", "result": {"id": result.id, "created": result.created}}
    if kind in UPDATES and result.refused in ("closed", "gone"):
        return {"state": result.refused, "result": {"error": result.error[:200]}}
    return {"state": "handback", "result": {"error": result.error[:200]}}
