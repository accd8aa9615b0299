"""When a customer's text is written in a bulk job instead of a single call (E6, #11).

A write goes out as a single call while Zendesk's budget has room and no backlog exists, so a
quiet system's latency does not change. Under a backlog — the shared budget refuses the call
(E3), or other texts wait to be packed into bulk jobs or are in one — the write is staged instead
(`written`): what the single call would have sent is kept in Redis (adapters/bulk_staging.py)
and the text's task ends with `Staged`. The conversation's queue then waits for the job's
answer (its head stays put, so a conversation has at most one text in flight and the next one
waits for it, S7); the drainer (handlers/bulk_drain.py) packs staged writes into jobs and wakes
the text when its job has answered, and the text's own task takes the answer
(handlers/bulk_inbound.py), so the event is marked done exactly where a single write marks it.

What keeps a customer's text close to its quiet latency during a flood (the control customer of
bench/campaign.py):
- the single write of a text that could be staged stops at half of Zendesk's windows
  (budgets.BULK_RESERVE): the drainer, at the full ceiling but paced (budgets.bulk_pace),
  finds room for its jobs (one call per up to 100 texts). Before, a flood's first single writes
  could fill the window and the texts staged after them waited for it to empty (tens of
  seconds);
- once texts go out in bulk (waiting to be packed, or a job of them in flight), every text is
  staged until the last such job is answered: a single write costs one to three calls where a
  job costs a fraction of one, and at the full-scale campaign the single writes made between
  two drainer runs spent the minute's window and left the drainer's runs with nothing for
  seconds (the control customers' p99 was that wait);
- beat runs the drainer every second while texts wait (workers/beat.py `WhenStaged`), and it
  packs follow-ups (comments on an open ticket) at every run, ahead of new conversations'
  requesters and tickets, which wait up to 2 s to share a job: a follow-up staged during a
  flood waits about a second for its job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from bridge.budgets import stageable_write
from bridge.domain.intents import PreparedText
from bridge.domain.model import requester_external_id
from bridge.errors import Deferred, RateLimited

if TYPE_CHECKING:
    from bridge.handlers.sms_inbound import InboundDeps

T = TypeVar("T")
log = logging.getLogger("zkbridge.bulk")
# A staged text is looked at again after this even if no drainer wakes it (a drainer that died
# between a job's answer and the wake-up); it then waits again if its job is still out.
RECHECK_SECONDS = 60.0


class Staged(Deferred):
    """The text's write waits for a bulk job: not a failure, and not a budget wait (no attempt
    is used; the drainer wakes the text when the job answers). It waits parked in `zkb:due`,
    not as a Celery countdown: thousands of staged texts held as countdowns by the worker
    during a flood kept it from fetching anything else for tens of seconds (bench/campaign.py
    at full scale), the drainer's runs and the wake-ups included."""

    woken = True


def may_stage(ref: str, deps: InboundDeps) -> bool:
    """Bulk writes are on and this text was not handed back to single calls."""
    if not deps.bulk_writes:
        return False
    item = deps.store.bulk.item(ref)
    return item is None or item.get("state") != "single"


def written(ref: str, deps: InboundDeps, kind: str, payload: dict[str, Any],
            call: Callable[[], T]) -> T:
    """`call()` (the single write), unless texts wait to be packed or the budget (less the
    drainer's reserve) refuses it: then the write (`kind`, `payload`: what the drainer sends)
    is staged and `Staged` raised."""
    staging = may_stage(ref, deps)
    if staging and deps.store.bulk.texts_in_bulk():
        stage(ref, deps, kind, payload)
    try:
        if not staging:
            return call()
        with stageable_write():         # the drainer's reserve stays free (budgets.BULK_RESERVE)
            return call()
    except RateLimited as e:
        if staging and e.local:      # nothing was sent: our own budget said "not now"
            stage(ref, deps, kind, payload, e)
        raise


def stage(ref: str, deps: InboundDeps, kind: str, payload: dict[str, Any],
          cause: BaseException | None = None) -> NoReturn:
    deps.store.bulk.stage(ref, kind, payload, deps.clock())
    log.info("bulk write staged", extra={"fields": {
        "event": ref, "kind": kind, "why": "budget" if cause else "backlog",
        "ticket_id": payload.get("ticket_id")}})
    raise Staged(RECHECK_SECONDS, f"its {kind} write waits for a bulk job") from cause


def requester_payload(prepared: PreparedText) -> dict[str, Any]:
    """The user create_or_update_many makes or matches (as create_or_update_user builds it:
    by email if the profile has one, else by the phone's external_id)."""
    user: dict[str, Any] = {"name": prepared.name, "phone": prepared.phone}
    if prepared.email:
        user["email"] = prepared.email
    else:
        user["external_id"] = requester_external_id(prepared.phone)
    return {"user": user, "email": prepared.email, "phone": prepared.phone}


def comment_payload(ticket_id: int, update: dict[str, Any], status_after: str | None,
                    ) -> dict[str, Any]:
    """One update_many item (the PUT's changes, by ticket id) and the status it leaves."""
    changes = {k: v for k, v in update.items() if v is not None}
    return {"update": {"id": ticket_id, **changes}, "ticket_id": ticket_id,
            "status_after": status_after,
            "requester_id": (update.get("comment") or {}).get("author_id")}
