"""A7's campaign notes written in update_many jobs (E6, #11): a campaign to 50,000 phones
reaches hundreds of customers with an open SMS ticket within minutes, and one PUT per note was
most of what a campaign cost in Zendesk calls (0.016 a receipt at full scale, 800 notes).

- With bulk writes on (ZENDESK_BULK_WRITES), a campaign note is staged (kind `note`) rather
  than written by its own task: no customer or agent waits for it, and a campaign's notes come
  by the hundred. Its intent is recorded by the drainer before the submit, as a single note's
  is before its PUT (handlers/notes.py), so a lost job is checked against the ticket's comments.
- The drainer packs notes after customer texts (background work, workers' lanes), once the
  oldest has waited NOTE_WAIT or a job is full. A job and the status read that follows it cost
  two calls: fewer than MIN_NOTE_JOB notes that have waited are handed back to single calls
  (`hand_back_lone_notes`), so a lone flow SMS on a quiet day still costs one call.
- Notes never make customer texts wait: they are not counted as texts waiting to be packed
  (adapters/bulk_staging.waiting), which is what pushes a text's write into a job.
- The note's task takes the answer: `done` -> the note is left (E1); `closed` / `gone` -> the
  ticket refused it (the caller forgets the ticket in the open-SMS index); `handback` or
  `single` -> the single path (add_note_once), whose resume logic reads the ticket first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.domain.bulk import IN_FLIGHT, MAX_ITEMS
from bridge.errors import Deferred
from bridge.handlers.bulk_stage import RECHECK_SECONDS, Staged
from bridge.handlers.notes import CLAIM_WAIT, add_note_once, note_left
from bridge.ports import StorePort, TicketApi

NOTE_WAIT = 5.0       # seconds the oldest staged note waits for others to share its job
MIN_NOTE_JOB = 3      # fewer notes than this go out as single calls (a job + its status read: 2)


def leave_note(ref: str, key: str, ticket_id: int, body: str, store: StorePort,
               zendesk: TicketApi, clock: Callable[[], float], bulk: bool) -> bool:
    """`add_note_once`, through an update_many job when `bulk`. Raises `Staged` while the
    note waits for its job; False if the ticket refused it (closed or deleted)."""
    item = store.bulk.item(ref)
    state = None if item is None else item.get("state")
    if state in IN_FLIGHT:
        raise Staged(RECHECK_SECONDS, "its note waits for a bulk job")
    if state is None and bulk and not store.ledger.note_done(key):
        _stage(ref, key, ticket_id, body, store, clock)
    if state == "handback":
        store.bulk.set_single(ref)
    if state in (None, "single", "handback"):
        return add_note_once(key, ticket_id, body, store, zendesk, clock)
    if state == "done":
        note_left(key, None, store)        # update_many does not say which comment it made
    else:
        store.ledger.clear_intent(f"note:{key}")
    store.bulk.clear(ref)
    return state == "done"


def _stage(ref: str, key: str, ticket_id: int, body: str, store: StorePort,
           clock: Callable[[], float]) -> None:
    """Stage the note (claimed: a concurrent duplicate of this task, which also found no item,
    must not stage it again once the drainer has sent it) and raise `Staged`."""
    if not store.ledger.claim(f"note:{key}"):
        raise Deferred(CLAIM_WAIT, "a concurrent duplicate is staging this note")
    try:
        if store.bulk.item(ref) is None:
            store.bulk.stage(ref, "note", note_payload(key, ticket_id, body), clock())
    finally:
        store.ledger.release_claim(f"note:{key}")
    raise Staged(RECHECK_SECONDS, "its note waits for a bulk job")


def note_payload(key: str, ticket_id: int, body: str) -> dict[str, Any]:
    """One update_many item: an internal note by the API user, the status left as it is."""
    return {"update": {"id": ticket_id, "comment": {"body": body, "public": False}},
            "ticket_id": ticket_id, "intent_key": f"note:{key}"}


def hand_back_lone_notes(store: StorePort, now: float,
                         park: Callable[[str, float], Any]) -> int:
    """Notes that waited NOTE_WAIT with fewer than MIN_NOTE_JOB to share a job go out as single
    calls: each is marked `single` and its task woken (`park(ref, now)`). Answers how many."""
    items = store.bulk.staged("note", MAX_ITEMS)
    if not items or len(items) >= MIN_NOTE_JOB \
            or now - min(float(i["at"]) for i in items) < NOTE_WAIT:
        return 0
    refs = [i["ref"] for i in items]
    store.bulk.hand_back(refs, "note")
    for ref in refs:
        park(ref, now)
    return len(refs)
