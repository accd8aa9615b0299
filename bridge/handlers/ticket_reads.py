"""The read behind a ticket metric (M1-M3), shared under a backlog (E6, #11).

Quiet, an Opened / Resolved Ticket reads its ticket alone (`tickets/{id}?include=users,
groups`), as before. Under a backlog — the Zendesk budget refused the read, so the event waits —
its ticket stays wanted (adapters/ticket_reads.py), and whichever metric task gets the budget
next reads up to 100 wanted tickets in one `tickets/show_many` call, keeping the others' for
them: a flood's hundreds of ticket reads cost a call per hundred instead of one each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.domain.bulk import MAX_ITEMS
from bridge.errors import TicketGone
from bridge.ports import StorePort, TicketApi

People = tuple[dict[str, Any], dict[int, dict], dict[int, dict]]


def read_people(ticket_id: int, store: StorePort, zendesk: TicketApi,
                clock: Callable[[], float]) -> People:
    """The ticket, its users and its group by id; TicketGone if it was deleted."""
    kept = store.reads.take(ticket_id)
    if kept is not None:
        return kept                                  # another task's show_many read it
    now = clock()
    store.reads.want(ticket_id, now)                 # stays wanted if the budget says "wait"
    others = [i for i in store.reads.wanted(MAX_ITEMS, now) if i != ticket_id]
    if not others:
        try:
            found = zendesk.ticket_with_people(ticket_id)
        except TicketGone:
            store.reads.keep({}, [ticket_id])
            raise
        store.reads.keep({}, [ticket_id])
        return found
    asked = [ticket_id, *others[:MAX_ITEMS - 1]]
    many = zendesk.tickets_with_people(asked)
    mine = many.pop(ticket_id, None)
    store.reads.keep(many, asked)
    if mine is None:
        raise TicketGone("zendesk", f"ticket {ticket_id} not found", 404)
    return mine
