"""E6: rebuild the open-SMS index (adapters/open_sms.py) when Redis lost it, in the background.

Run by the sweep (every 30 s); it costs one Redis read while the index is whole. Otherwise it
pages the "SMS tickets" view that `zkbridge provision --view` makes (tagged sms, not closed):
one call finds the view, then one call per 100 open SMS tickets. Each ticket's external_id
(`zkb-sms:<phone>:<brand number>`) names the conversation; tickets the bridge did not make are
skipped. A page refused by the budget (or the account's 429) stops the run and the next sweep
resumes from the saved cursor, so the rebuild never crowds out interactive work. Marks made by
live writes meanwhile are kept: an older ticket never overwrites a newer one in the index.

Without the view (not provisioned), the index holds what the bridge writes from now on and the
rebuild is tried again an hour later (counted `open_sms:rebuild:no_view`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bridge.domain.model import Ticket, parse_external_id
from bridge.errors import RateLimited, Retryable
from bridge.ports import StorePort

CURSOR_KEY = "opensms:rebuild:cursor"
VIEW_KEY = "opensms:rebuild:view"
CLAIM = "opensms:rebuild"
NO_VIEW_RETRY_SECONDS = 3600
MAX_PAGES_PER_RUN = 20         # 2,000 open tickets a sweep; the next sweep goes on


class ViewApi(Protocol):
    def view_id(self, title: str) -> int | None: ...
    def view_tickets(self, view_id: int, cursor: str | None = None,
                     ) -> tuple[list[Ticket], str | None]: ...


@dataclass
class RebuildDeps:
    store: StorePort
    zendesk: ViewApi
    view_title: str = "SMS tickets"     # bridge/ops/provision.py VIEW_TITLE (bootstrap passes it)


def rebuild_if_lost(deps: RebuildDeps) -> dict[str, int]:
    """Rebuild the index if it is not whole; {"pages", "tickets"} read this run."""
    store = deps.store
    if store.open_sms.is_ready() or not store.ledger.claim(CLAIM, ttl=300):
        return {"pages": 0, "tickets": 0}
    try:
        return _rebuild(deps)
    except (RateLimited, Retryable):
        store.outcomes.count("open_sms", "rebuild", "paused")
        return {"pages": 0, "tickets": 0}
    finally:
        store.ledger.release_claim(CLAIM)


def _rebuild(deps: RebuildDeps) -> dict[str, int]:
    store = deps.store
    view = store.ledger.get_value(VIEW_KEY)
    if not view:
        found = deps.zendesk.view_id(deps.view_title)
        if found is None:
            store.open_sms.set_ready("no_view", ttl=NO_VIEW_RETRY_SECONDS)
            store.outcomes.count("open_sms", "rebuild", "no_view")
            return {"pages": 0, "tickets": 0}
        view = str(found)
        store.ledger.set_value(VIEW_KEY, view)
    cursor = store.ledger.get_value(CURSOR_KEY) or None
    pages = seen = 0
    while pages < MAX_PAGES_PER_RUN:
        tickets, cursor = deps.zendesk.view_tickets(int(view), cursor)
        pages += 1
        seen += _mark_all(store, tickets)
        store.ledger.set_value(CURSOR_KEY, cursor or "")
        if cursor is None:
            store.open_sms.set_ready("view")
            store.ledger.set_value(VIEW_KEY, "")
            store.outcomes.count("open_sms", "rebuild", "done")
            break
    store.outcomes.count("open_sms", "rebuild", "tickets", seen)
    return {"pages": pages, "tickets": seen}


def _mark_all(store: StorePort, tickets: list[Ticket]) -> int:
    marked = 0
    for t in tickets:
        conv = parse_external_id(t.external_id or "")
        if conv is not None and t.status != "closed":
            store.open_sms.mark(conv[0], conv[1], t.id, t.status)
            marked += 1
    return marked
