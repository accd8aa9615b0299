"""E6 with fakes: the open-SMS index, lost with Redis, is rebuilt in the background from the
"SMS tickets" view at one call per 100 open tickets (plus one to find the view); a run cut
short by the budget resumes where it stopped; live marks made meanwhile are kept."""

from __future__ import annotations

from bridge.domain.model import Ticket, conversation_external_id
from bridge.errors import RateLimited
from bridge.handlers.open_sms_rebuild import RebuildDeps, rebuild_if_lost
from tests import fakes
from tests.factories import ALICE, SHORT_CODE, TOLL_FREE

VIEW = 7


class FakeViews:
    """The view's not-closed SMS tickets, 100 a page; counts calls; can refuse one page."""

    def __init__(self, tickets: list[Ticket], exists: bool = True) -> None:
        self.tickets, self.exists, self.calls, self.refuse_at = tickets, exists, 0, -1

    def view_id(self, title: str) -> int | None:
        self.calls += 1
        return VIEW if self.exists and title == "SMS tickets" else None

    def view_tickets(self, view_id: int, cursor: str | None = None,
                     ) -> tuple[list[Ticket], str | None]:
        self.calls += 1
        if self.calls == self.refuse_at:
            raise RateLimited("zendesk", 5.0, local=True)
        start = int(cursor or 0)
        more = start + 100 < len(self.tickets)
        return self.tickets[start:start + 100], str(start + 100) if more else None


def phone(i: int) -> str:
    return f"+1500555{i:04d}"


def open_tickets(n: int) -> list[Ticket]:
    return [Ticket(1000 + i, "open", conversation_external_id(phone(i), TOLL_FREE))
            for i in range(n)]


def test_a_lost_index_is_rebuilt_at_one_call_per_100_open_tickets() -> None:
    store, views = fakes.store(), FakeViews(open_tickets(450) + [Ticket(5, "open", None)])
    rebuild_if_lost(RebuildDeps(store=store, zendesk=views))
    assert store.open_sms.is_ready()
    assert views.calls == 1 + 5                   # find the view, then 451 tickets / 100
    assert store.open_sms.open_tickets(phone(449)) == {TOLL_FREE: (1449, "open")}


def test_a_whole_index_costs_no_call() -> None:
    store, views = fakes.store(), FakeViews(open_tickets(3))
    store.open_sms.set_ready("view")
    rebuild_if_lost(RebuildDeps(store=store, zendesk=views))
    assert views.calls == 0


def test_a_rebuild_stopped_by_the_budget_resumes_from_its_cursor() -> None:
    store, views = fakes.store(), FakeViews(open_tickets(350))
    views.refuse_at = 4                           # the third page is refused
    rebuild_if_lost(RebuildDeps(store=store, zendesk=views))
    assert not store.open_sms.is_ready()
    rebuild_if_lost(RebuildDeps(store=store, zendesk=views))
    assert store.open_sms.is_ready()
    assert views.calls == 1 + 2 + 1 + 2          # view, 2 pages, refused, the last 2 pages
    assert store.open_sms.with_open_ticket([phone(0), phone(349)]) == [True, True]


def test_a_newer_ticket_marked_live_is_not_overwritten_by_the_view() -> None:
    store = fakes.store()
    store.open_sms.mark(ALICE, SHORT_CODE, 2000, "pending")
    views = FakeViews([Ticket(1500, "open", conversation_external_id(ALICE, SHORT_CODE))])
    rebuild_if_lost(RebuildDeps(store=store, zendesk=views))
    assert store.open_sms.open_tickets(ALICE) == {SHORT_CODE: (2000, "pending")}


def test_without_the_view_the_index_is_tried_again_later_and_counted() -> None:
    store, views = fakes.store(), FakeViews([], exists=False)
    rebuild_if_lost(RebuildDeps(store=store, zendesk=views))
    assert store.open_sms.is_ready()              # for an hour (redis_keys.py)
    assert store.outcomes.counters()["open_sms:rebuild:no_view"] == 1
