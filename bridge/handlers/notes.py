"""Internal notes the bridge leaves on a ticket (A3, A4, A6, A7, S2): each at most once per key,
across crashes and timeouts (E1).

A note is recorded as an intent before it is written. If the write's answer is lost (a timeout
after Zendesk added it), the re-run reads the ticket's comments once and finds the note, instead
of adding it a second time; earlier identical notes are in the ledger of the bridge's own
comments, so they are not mistaken for this one.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge.domain.intents import CommentIntent, intent_from_json
from bridge.errors import Deferred, RateLimited, TicketClosed
from bridge.ports import StorePort, TicketApi

CLAIM_WAIT = 2.0    # seconds a duplicate waits for the job leaving the same note


def add_note_once(key: str, ticket_id: int, body: str, store: StorePort, zendesk: TicketApi,
                  clock: Callable[[], float]) -> bool:
    """Leave the note unless it was left for `key` already. False if the ticket is closed
    (Zendesk refuses to change it; nothing to tell the agent there)."""
    if store.ledger.note_done(key):
        return True
    if not store.ledger.claim(f"note:{key}"):    # a duplicate of this job runs right now
        raise Deferred(CLAIM_WAIT, "a concurrent duplicate is leaving this note")
    try:
        return _leave(key, ticket_id, body, store, zendesk, clock)
    except BaseException:
        store.ledger.release_claim(f"note:{key}")  # not left: let a retry claim it
        raise


def _leave(key: str, ticket_id: int, body: str, store: StorePort, zendesk: TicketApi,
           clock: Callable[[], float]) -> bool:
    if store.ledger.note_done(key) or _landed_before(key, ticket_id, body, store, zendesk):
        return True
    intent_key = f"note:{key}"
    store.ledger.set_intent(intent_key, CommentIntent(ticket_id, clock()).to_json())
    try:
        note_id = zendesk.add_note(ticket_id, body)
    except TicketClosed:
        store.ledger.clear_intent(intent_key)
        store.ledger.release_claim(intent_key)
        return False
    except RateLimited:
        store.ledger.clear_intent(intent_key)      # nothing was written
        raise
    note_left(key, note_id, store)
    return True


def delivery_note(ticket_id: int, comment_id: int, reason: str, body: str, store: StorePort,
                  zendesk: TicketApi, clock: Callable[[], float]) -> None:
    """The one way the agent is told about a reply's delivery (held by consent, outcome
    unknown, failed for good; quiet hours and WhatsApp's window later): one internal note per
    (comment, reason), even across a lost answer. On a closed ticket there is no one to tell,
    and it is not tried again."""
    key = f"{comment_id}:{reason}"
    if not add_note_once(key, ticket_id, body, store, zendesk, clock):
        store.ledger.mark_note_done(key)


def _landed_before(key: str, ticket_id: int, body: str, store: StorePort,
                   zendesk: TicketApi) -> bool:
    intent = intent_from_json(store.ledger.get_intent(f"note:{key}"))
    if intent is None or intent.ticket_id != ticket_id:
        return False
    for c in zendesk.comments_newest_first(ticket_id):     # a recent write: on the first page
        if not c.public and c.body.strip() == body.strip() \
                and not store.ledger.is_own_comment(c.id):
            note_left(key, c.id, store)
            return True
    return False


def note_left(key: str, note_id: int | None, store: StorePort) -> None:
    """The note for `key` is on its ticket (`note_id` when Zendesk said which comment)."""
    if note_id is not None:
        store.ledger.remember_own_comment(note_id)
    store.ledger.mark_note_done(key)
    store.ledger.clear_intent(f"note:{key}")
