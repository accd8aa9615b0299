"""The bulk drainer (E6, #11): beat's `bridge.bulk_writes` packs staged texts into Zendesk bulk
jobs, follows the jobs, and hands each text its job's answer.

Each run, under one lock (one drainer at a time):
1. follow: the jobs in flight are read with one `job_statuses/show_many` per 100; a finished
   job's answers are written to its items (bulk_results.py) in one MULTI with the batch closed,
   and each text is woken (`zkb:due`) so its own task takes the answer in its conversation's
   turn;
2. recover: a batch recorded without a job id (the worker died between recording and reading
   the submit's answer, or the answer never came) is an unknown job: once it has surely run
   (`unknown_after`), its items are handed back to single calls, whose resume logic checks
   Zendesk before writing (E1). No Idempotency-Key exists for these endpoints;
3. submit: staged items, oldest first, up to 100 a job: requesters (create_or_update_many),
   tickets (create_many), comments (update_many, one per ticket), while fewer than `max_jobs`
   are in flight (Zendesk's 30-job limit; its 429 puts the items back, as does our budget).

Before each submit the batch (its items) is recorded and each item's intent written as the
single path writes it before its call (CommentIntent; the CreationIntent marked `bulk`: no key
to replay) with the text remembered as posted in the requester's name (A2), so a worker killed
anywhere loses nothing and doubles nothing.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bridge.domain.bulk import KINDS, MAX_ITEMS
from bridge.domain.intents import CommentIntent, intent_from_json
from bridge.errors import Permanent, RateLimited, Retryable
from bridge.handlers import bulk_results
from bridge.ports import BulkTicketApi, StorePort

JOB_KEPT_SECONDS = 3600      # Zendesk keeps a job's status an hour [doc]
# [assumed] a job Zendesk accepted has run after this long (they take seconds); only then are
# the items of a job whose id was never recorded handed back to single calls.
UNKNOWN_AFTER_SECONDS = 120.0


@dataclass
class BulkDeps:
    store: StorePort
    zendesk: BulkTicketApi
    max_jobs: int = 30
    unknown_after: float = UNKNOWN_AFTER_SECONDS
    clock: Callable[[], float] = time.time


def drain(deps: BulkDeps) -> dict[str, int]:
    """One drainer run; answers what it did (for the task's result in Flower)."""
    token = secrets.token_hex(8)
    if not deps.store.bulk.lock(token):
        return {"busy": 1}
    done: Counter[str] = Counter()
    try:
        done["answered"] = follow(deps)
        done["recovered"] = recover_unknown(deps)
        done["submitted"] = submit(deps)
    except RateLimited:
        pass                      # the budget: the rest waits for the next run
    finally:
        deps.store.bulk.unlock(token)
    return dict(done)


def follow(deps: BulkDeps) -> int:
    """Read the jobs in flight; settle the finished ones. Answers how many texts were answered."""
    known = [b for b in deps.store.bulk.batches() if b.get("job_id")]
    answered = 0
    for start in range(0, len(known), MAX_ITEMS):
        chunk = known[start:start + MAX_ITEMS]
        statuses = deps.zendesk.job_statuses([b["job_id"] for b in chunk])
        for batch in chunk:
            job = statuses.get(batch["job_id"])
            if job is not None and job.finished:
                answered += settle(batch, job, deps)
            elif job is None and deps.clock() - batch["at"] > JOB_KEPT_SECONDS:
                answered += settle(batch, None, deps)       # forgotten: check, then write
    return answered


def recover_unknown(deps: BulkDeps) -> int:
    """Hand back the items of batches whose job id was never recorded, once surely run."""
    cutoff = deps.clock() - deps.unknown_after
    return sum(settle(b, None, deps) for b in deps.store.bulk.batches()
               if not b.get("job_id") and b["at"] < cutoff)


def settle(batch: dict[str, Any], job: Any, deps: BulkDeps) -> int:
    """Write the job's answer to each item (a made ticket's id into its intent first), close
    the batch, wake the texts."""
    items = deps.store.bulk.items(list(batch["refs"]))
    answers = bulk_results.answers(batch, items, job)
    if batch["kind"] == "ticket":
        for ref, answer in answers.items():
            _ticket_made(ref, answer, deps)
    deps.store.bulk.settle_batch(batch, answers)
    now = deps.clock()
    for ref in answers:
        deps.store.due.park(ref, now)
    return len(answers)


def _ticket_made(ref: str, answer: dict[str, Any], deps: BulkDeps) -> None:
    intent = intent_from_json(deps.store.ledger.get_intent(ref))
    if answer["state"] == "done" and intent is not None and not isinstance(intent,
                                                                           CommentIntent):
        deps.store.ledger.set_intent(ref, intent.created(int(answer["result"]["id"])).to_json())


def submit(deps: BulkDeps) -> int:
    """Pack staged items into jobs, requesters first, within the job limit."""
    in_flight = len(deps.store.bulk.batches())
    submitted = 0
    for kind in KINDS:
        while in_flight < deps.max_jobs:
            items = _distinct(kind, deps.store.bulk.staged(kind, MAX_ITEMS))
            if not items:
                break
            if not submit_one(kind, items, deps):
                return submitted
            in_flight, submitted = in_flight + 1, submitted + 1
    return submitted


def submit_one(kind: str, items: list[dict[str, Any]], deps: BulkDeps) -> bool:
    """Record, submit, record the job id. False when Zendesk or the budget said "not now"."""
    batch = deps.store.bulk.open_batch(secrets.token_hex(12), kind, items, deps.clock())
    if batch is None:
        return False              # another drainer took some of them: next run, afresh
    for item in items:
        _record_intent(kind, item, deps)
    try:
        job_id = SUBMIT[kind](deps.zendesk, [_body(kind, i) for i in items])
    except RateLimited:
        deps.store.bulk.cancel_batch(batch, items)     # nothing was sent (budget, job limit)
        return False
    except Retryable as e:
        if not (e.maybe_applied or (e.status or 0) >= 500):
            deps.store.bulk.cancel_batch(batch, items)
        return False              # else: an unknown job, recovered after unknown_after
    except Permanent:
        settle(batch, None, deps)                      # each item meets its error alone
        return True
    deps.store.bulk.set_job(batch, job_id)
    return True


def _record_intent(kind: str, item: dict[str, Any], deps: BulkDeps) -> None:
    """What the single path records before its call (E1, A2)."""
    payload = item["payload"]
    ref = item["ref"]
    if kind == "comment":
        deps.store.ledger.set_intent(ref, CommentIntent(int(payload["ticket_id"]),
                                                        deps.clock()).to_json())
        body = payload["update"]["comment"]["body"]
        requester = payload.get("requester_id")
    elif kind == "ticket":
        deps.store.ledger.set_intent(ref, {**payload["intent"], "bulk": True})
        ticket = payload["intent"]["ticket"]
        body, requester = ticket["comment"]["body"], ticket.get("requester_id")
    else:
        return
    if requester is not None:
        deps.store.ledger.remember_posted(int(requester), body)


def _body(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    payload = item["payload"]
    if kind == "comment":
        return dict(payload["update"])
    if kind == "ticket":
        return dict(payload["intent"]["ticket"])
    return dict(payload["user"])


def _distinct(kind: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One change per ticket per job (the others wait for the next job)."""
    if kind != "comment":
        return items
    seen: set[int] = set()
    out = []
    for item in items:
        ticket = int(item["payload"]["ticket_id"])
        if ticket not in seen:
            seen.add(ticket)
            out.append(item)
    return out


SUBMIT: dict[str, Callable[[BulkTicketApi, list[dict[str, Any]]], str]] = {
    "requester": lambda z, bodies: z.create_or_update_many(bodies),
    "ticket": lambda z, bodies: z.create_many(bodies),
    "comment": lambda z, bodies: z.update_many(bodies),
}
