"""The bulk drainer (E6, #11): beat's `bridge.bulk_writes` packs staged texts into Zendesk bulk
jobs, follows the jobs, and hands each text its job's answer.

Each run, under one lock (one drainer at a time; beat runs it every second while texts wait
to be packed, workers/beat.py), its calls paced (budgets.bulk_pace; steps 4-5 leave a share
of that pace to steps 1-2: budgets.later_jobs), so in this order:
1. submit follow-ups (comments on an open ticket: a live conversation), see 4;
2. follow: once a job in flight is due a look (a second after its submit, then at doubling
   intervals: `look_at`), the jobs in flight are read with one `job_statuses/show_many` per
   100; a finished job's answers are written to its items (bulk_results.py) in one MULTI with
   the batch closed, and each text is woken (`zkb:due`) so its own task takes the answer in its
   conversation's turn;
3. recover: a batch recorded without a job id (the worker died between recording and reading
   the submit's answer, or the answer never came) is an unknown job: once it has surely run
   (`unknown_after`), its items are handed back to single calls, whose resume logic checks
   Zendesk before writing (E1). No Idempotency-Key exists for these endpoints;
4. submit new conversations: staged items, oldest first, up to 100 a job: requesters
   (create_or_update_many), tickets (create_many) — and in step 1 comments (update_many, one
   per ticket) — while fewer than `max_jobs` are in flight (Zendesk's 30-job limit; its 429
   puts the items back, as does our budget). Comments go at every run; a requester or ticket
   waits up to NEW_CONVERSATION_WAIT to share its job (`packable`);
5. A7's campaign notes (handlers/bulk_notes.py), last: update_many jobs once the oldest has
   waited NOTE_WAIT, or back to single calls when too few wait to be worth a job.

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

from bridge.budgets import later_jobs
from bridge.domain.bulk import KINDS, MAX_ITEMS, UPDATES
from bridge.domain.intents import CommentIntent, CreationIntent, intent_from_json
from bridge.errors import Permanent, RateLimited, Retryable
from bridge.handlers import bulk_results
from bridge.handlers.bulk_notes import NOTE_WAIT, hand_back_lone_notes
from bridge.ports import BulkTicketApi, StorePort

JOB_KEPT_SECONDS = 3600      # Zendesk keeps a job's status an hour [doc]
# [assumed] a job Zendesk accepted has run after this long (they take seconds); only then are
# the items of a job whose id was never recorded handed back to single calls.
UNKNOWN_AFTER_SECONDS = 120.0
# A job is first asked about this long after its submit (the sandbox's take 1 s; Zendesk's
# [assumed] a few seconds), then at doubling intervals up to LOOK_EVERY_MAX; the jobs in flight
# are read together, at most once every LOOK_GAP_SECONDS.
FIRST_LOOK_SECONDS = 1.0
LOOK_EVERY_MAX = 8.0
LOOK_GAP_SECONDS = 2.0
# A new conversation's requester or ticket waits this long for others to share its job.
NEW_CONVERSATION_WAIT = 2.0
FOLLOW_UPS, NEW_CONVERSATIONS, NOTES = ("comment",), ("requester", "ticket"), ("note",)
# How long a kind's oldest staged item waits for others to share its job (unless one is full).
WAIT = {"comment": 0.0, "requester": NEW_CONVERSATION_WAIT, "ticket": NEW_CONVERSATION_WAIT,
        "note": NOTE_WAIT}


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
        # the drainer's pace may allow a call or two a run: a live conversation's text first,
        # then the answers (they free the conversations behind them), then new conversations
        done["submitted"] = submit(deps, FOLLOW_UPS)
        done["answered"] = follow(deps)
        done["recovered"] = recover_unknown(deps)
        with later_jobs():        # a follow-up and a job's answer keep a share of the pace
            done["submitted"] += submit(deps, NEW_CONVERSATIONS)
            done["single"] = hand_back_lone_notes(deps.store, deps.clock(), deps.store.due.park)
            done["submitted"] += submit(deps, NOTES)   # A7's campaign notes: background work
    except RateLimited:
        pass                      # the budget: the rest waits for the next run
    finally:
        deps.store.bulk.unlock(token)
    return dict(done)


def follow(deps: BulkDeps) -> int:
    """Read the jobs in flight once one is due a look (`look_at`); settle the finished ones.
    Answers how many texts were answered. A run with no job due makes no call, so beat may run
    the drainer often while texts wait to be packed without polling more often."""
    now = deps.clock()
    known = [b for b in deps.store.bulk.batches() if b.get("job_id")]
    last = max((float(b.get("looked") or 0) for b in known), default=0.0)
    if now - last < LOOK_GAP_SECONDS or not any(look_at(b) <= now for b in known):
        return 0
    known = [b for b in known if now - b["at"] >= FIRST_LOOK_SECONDS]   # one call asks for all
    answered = 0
    for start in range(0, len(known), MAX_ITEMS):
        chunk = known[start:start + MAX_ITEMS]
        statuses = deps.zendesk.job_statuses([b["job_id"] for b in chunk])
        for batch in chunk:
            job = statuses.get(batch["job_id"])
            if job is not None and job.finished:
                answered += settle(batch, job, deps)
            elif job is None and now - batch["at"] > JOB_KEPT_SECONDS:
                answered += settle(batch, None, deps)       # forgotten: check, then write
            else:
                deps.store.bulk.looked_at(batch, now)
    return answered


def look_at(batch: dict[str, Any]) -> float:
    """When a submitted job is next asked about: FIRST_LOOK_SECONDS after its submit, then at
    doubling intervals up to LOOK_EVERY_MAX (a slow job costs few status reads)."""
    looked = batch.get("looked")
    if looked is None:
        return float(batch["at"]) + FIRST_LOOK_SECONDS
    gap = min(LOOK_EVERY_MAX, max(FIRST_LOOK_SECONDS, float(looked) - float(batch["at"])))
    return float(looked) + gap


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
    now = deps.clock()
    deps.store.bulk.settle_batch(batch, answers, now)
    for ref in answers:
        deps.store.due.park(ref, now)
    return len(answers)


def _ticket_made(ref: str, answer: dict[str, Any], deps: BulkDeps) -> None:
    intent = intent_from_json(deps.store.ledger.get_intent(ref))
    if answer["state"] == "done" and isinstance(intent, CreationIntent):
        ticket_id = int(answer["result"]["id"])
        deps.store.ledger.set_intent(ref, intent.created(ticket_id).to_json())
        _remember_made(ticket_id, intent, deps)


def _remember_made(ticket_id: int, intent: CreationIntent, deps: BulkDeps) -> None:
    """E6: a ticket a create_many job made for a requester the bridge made is remembered as
    a single creation remembers Zendesk's answer (inbound_writes.MADE_FIELDS), from the body
    the job was given, so its Opened Ticket needs no ticket read (handlers/ticket_metric.py
    takes status, priority, type, tags, group and assignee from the ticket.created webhook).
    During a flood those reads took the background lane's whole share of the budget. Not for
    a follow-up ticket (Zendesk sets its channel and tags from the closed one): it is read."""
    body = intent.ticket
    requester = deps.store.ledger.made_requester(intent.requester_id)
    if requester is None or body.get("via_followup_source_id"):
        return
    ticket = {"id": ticket_id, "subject": body.get("subject"),
              "description": (body.get("comment") or {}).get("body"), "priority": None,
              "type": None, "status": "new", "tags": list(body.get("tags") or []),
              # [assumed] as a single POST's answer says: a ticket made through the API
              "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
              "custom_fields": list(body.get("custom_fields") or []), "assignee_id": None,
              "group_id": body.get("group_id"), "requester_id": intent.requester_id}
    deps.store.ledger.remember_made_ticket(ticket_id, {"ticket": ticket, "requester": requester})


def submit(deps: BulkDeps, kinds: tuple[str, ...] = KINDS) -> int:
    """Pack staged items into jobs within the job limit: follow-ups first, then the kind whose
    oldest item has waited longest (`packable`); one job a kind a run unless its items fill
    whole jobs, so a flood is not spent in one-text jobs while beat runs the drainer each
    second."""
    in_flight = len(deps.store.bulk.batches())
    submitted = 0
    for kind, items in packable(deps, kinds):
        while items and in_flight < deps.max_jobs:
            if not submit_one(kind, items, deps):
                return submitted
            in_flight, submitted = in_flight + 1, submitted + 1
            items = _distinct(kind, deps.store.bulk.staged(kind, MAX_ITEMS))
            if len(items) < MAX_ITEMS:
                break             # the rest waits for the next run (a second)
    return submitted


def packable(deps: BulkDeps, kinds: tuple[str, ...] = KINDS,
             ) -> list[tuple[str, list[dict[str, Any]]]]:
    """The kinds to pack this run, in order, with their items. Follow-ups (comments on a
    customer's open ticket: a live conversation) go every run; a new conversation's requester
    or ticket waits to share its job until its oldest item has waited NEW_CONVERSATION_WAIT or
    a job is full: each is a step of two, and its texts wait for an agent to pick them up; a
    campaign note waits NOTE_WAIT (`WAIT`)."""
    now = deps.clock()
    ready = []
    for kind in kinds:
        items = _distinct(kind, deps.store.bulk.staged(kind, MAX_ITEMS))
        oldest = min((float(i["at"]) for i in items), default=now)
        if items and (len(items) >= MAX_ITEMS or now - oldest >= WAIT[kind]):
            ready.append((kind != "comment", oldest, kind, items))
    return [(kind, items) for _, _, kind, items in sorted(ready, key=lambda r: r[:2])]


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
    elif kind == "note":          # as handlers/notes.py records it before its PUT
        deps.store.ledger.set_intent(payload["intent_key"], CommentIntent(
            int(payload["ticket_id"]), deps.clock()).to_json())
        return
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
    if kind in UPDATES:
        return dict(payload["update"])
    if kind == "ticket":
        return dict(payload["intent"]["ticket"])
    return dict(payload["user"])


def _distinct(kind: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One change per ticket per job (the others wait for the next job)."""
    if kind not in UPDATES:
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
    "note": lambda z, bodies: z.update_many(bodies),
}
