"""The catch-up sweep (M4): it pages Zendesk's incremental export from a kept cursor and asks for
every Opened/Resolved Ticket the webhooks missed, once, within the export's budget."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.domain.metric_rules import OPENED, RESOLVED
from bridge.domain.model import Budget
from bridge.handlers.reconcile import START_KEY, ReconcileDeps, reconcile
from tests.fakes import Clock, FakeZendesk, store

MINUTE, HOUR = 60, 3600


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Sweep:
    def __init__(self, *, exports_per_minute: int = 100, max_pages: int = 10,
                 page_size: int = 1000) -> None:
        self.clock = Clock()
        self.store = store()
        self.zendesk = FakeZendesk()
        self.zendesk.export_page_size = page_size
        self.asked: list[tuple[int, str]] = []
        self.deps = ReconcileDeps(
            store=self.store, zendesk=self.zendesk, quota=self.store.quota,
            enqueue_metric=lambda tid, metric, when, brand_id: self.asked.append((tid, metric)),
            budget=Budget("zendesk-incremental-export", ((exports_per_minute, 60.0),)),
            max_pages=max_pages)

    def ticket(self, *, created_ago: float, status: str = "open",
               updated_ago: float = 0) -> int:
        now = self.clock()
        return self.zendesk.add_ticket(status=status, created_at=iso(now - created_ago),
                                       updated_at=iso(now - updated_ago))

    def run(self) -> dict[str, int]:
        return reconcile(self.deps, self.clock())


def test_m4_the_first_sweep_looks_back_one_hour_for_new_tickets() -> None:
    sweep = Sweep()
    recent = sweep.ticket(created_ago=30 * MINUTE)
    sweep.ticket(created_ago=2 * HOUR)
    sweep.ticket(created_ago=30 * 24 * HOUR, status="solved")
    assert sweep.run() == {"pages": 1, "asked": 1}
    assert sweep.asked == [(recent, OPENED)]
    assert sweep.store.ledger.get_value(START_KEY) == str(int(sweep.clock() - HOUR))


def test_m4_a_ticket_closed_without_a_webhook_is_resolved_however_old() -> None:
    """Zendesk's 28-day auto-close fires no trigger."""
    sweep = Sweep()
    old = sweep.ticket(created_ago=30 * 24 * HOUR, status="closed", updated_ago=5 * MINUTE)
    new = sweep.ticket(created_ago=10 * MINUTE, status="closed")
    sweep.run()
    assert sweep.asked == [(old, RESOLVED), (new, OPENED), (new, RESOLVED)]


def test_m4_metrics_already_recorded_are_skipped() -> None:
    sweep = Sweep()
    tid = sweep.ticket(created_ago=10 * MINUTE, status="closed")
    sweep.store.ledger.mark_metric_done(tid, OPENED)      # its webhook came through
    sweep.run()
    assert sweep.asked == [(tid, RESOLVED)]


def test_m4_a_later_sweep_resumes_from_the_cursor_and_asks_for_nothing_twice() -> None:
    sweep = Sweep()
    first = sweep.ticket(created_ago=10 * MINUTE)
    sweep.run()
    sweep.clock.advance(5 * MINUTE)
    second = sweep.ticket(created_ago=1 * MINUTE)
    assert sweep.run() == {"pages": 1, "asked": 1}
    assert sweep.asked == [(first, OPENED), (second, OPENED)]


def test_m4_the_start_is_kept_so_a_later_sweep_does_not_look_back_further() -> None:
    sweep = Sweep()
    sweep.run()
    start = sweep.store.ledger.get_value(START_KEY)
    sweep.clock.advance(3 * HOUR)
    sweep.ticket(created_ago=90 * MINUTE)          # after the first sweep's start: wanted
    sweep.run()
    assert sweep.store.ledger.get_value(START_KEY) == start
    assert len(sweep.asked) == 1


def test_m4_a_sweep_stopped_by_its_page_limit_continues_where_it_stopped() -> None:
    sweep = Sweep(max_pages=2, page_size=1)
    tickets = [sweep.ticket(created_ago=10 * MINUTE) for _ in range(5)]
    assert sweep.run() == {"pages": 2, "asked": 2}
    assert sweep.run() == {"pages": 2, "asked": 2}
    assert sweep.run()["asked"] == 1
    assert sweep.asked == [(tid, OPENED) for tid in tickets]


def test_m4_a_sweep_stops_when_the_export_budget_is_spent() -> None:
    sweep = Sweep(exports_per_minute=2, page_size=1)
    tickets = [sweep.ticket(created_ago=10 * MINUTE) for _ in range(4)]
    assert sweep.run() == {"pages": 2, "asked": 2}
    assert sweep.run() == {"pages": 0, "asked": 0}     # the next sweep waits for the budget
    assert sweep.zendesk.calls["export_page"] == 2
    assert sweep.asked == [(tid, OPENED) for tid in tickets[:2]]



def test_e7_each_missing_metric_names_its_tickets_zendesk_brand() -> None:
    """The worker turns the brand id into the brand whose Klaviyo account gets the metric."""
    sweep = Sweep()
    brands: list[tuple[int, int | None]] = []
    sweep.deps.enqueue_metric = lambda tid, metric, when, brand_id: brands.append((tid, brand_id))
    now = sweep.clock()
    bolt = sweep.zendesk.add_ticket(status="open", created_at=iso(now - MINUTE),
                                    updated_at=iso(now), brand_id=8002)
    plain = sweep.ticket(created_ago=MINUTE)
    sweep.run()
    assert sorted(brands) == sorted([(bolt, 8002), (plain, None)])
