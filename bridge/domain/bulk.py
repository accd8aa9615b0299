"""Values of Zendesk's bulk jobs (E6, #11), shared by the adapter that parses them
(adapters/zendesk_bulk.py), the staging area (adapters/bulk_staging.py) and the handlers that
act on them (handlers/bulk_*.py). No I/O."""

from __future__ import annotations

from dataclasses import dataclass

MAX_ITEMS = 100                                 # per job [doc]
FINISHED = ("completed", "failed", "killed")    # a job's end states [doc]
TEXT_KINDS = ("requester", "ticket", "comment")  # what a staged customer text makes
KINDS = (*TEXT_KINDS, "note")                   # and A7's campaign notes (handlers/bulk_notes.py)
UPDATES = ("comment", "note")                   # update_many items: one per ticket per job
IN_FLIGHT = ("staged", "sent")                  # a staged write's states before its answer


@dataclass(frozen=True)
class ItemResult:
    """One item of a finished job: `id` is the ticket or user (None if refused); `refused`
    says why, as the adapter read it: "closed" (the ticket is closed), "gone" (deleted),
    "other", or "" (not refused)."""

    index: int
    id: int | None
    success: bool
    created: bool = False          # users: made new (not matched by email / external_id)
    refused: str = ""
    error: str = ""


@dataclass(frozen=True)
class JobStatus:
    id: str
    status: str                   # queued | working | completed | failed | killed
    results: tuple[ItemResult, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status in FINISHED
