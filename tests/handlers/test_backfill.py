"""Backfill: historical Opened/Resolved Ticket events, sent in bulk with `backfill: true` at their
real times, skipping what live sync recorded, resumable without sending anything twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bridge.domain.brand_scope import scope
from bridge.domain.metric_rules import OPENED, RESOLVED
from bridge.domain.model import Budget
from bridge.errors import Retryable
from bridge.ops.backfill import BackfillDeps, BackfillReport, backfill, cursor_key
from tests.fakes import Clock, FakeKlaviyo, FakeZendesk, store

SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class History:
    """A Zendesk account with past tickets, each with its own requester."""

    def __init__(self, page_size: int = 1000) -> None:
        self.clock = Clock()
        self.store = store()
        self.zendesk = FakeZendesk()
        self.klaviyo = FakeKlaviyo()
        self.deps = BackfillDeps(
            store=self.store, zendesk=self.zendesk, klaviyo=self.klaviyo,
            quota=self.store.quota, zendesk_url="https://acme.zendesk.com",
            export_budget=Budget("zendesk-incremental-export", ((1000, 60.0),)),
            page_size=page_size, sleep=self.clock.sleep)

    def ticket(self, *, day: int, status: str = "open", closed_day: int | None = None,
               email: str | None = "customer@example.com", **more: object) -> int:
        requester = self.zendesk.add_user("Customer", email=email)
        created = SINCE + timedelta(days=day)
        updated = SINCE + timedelta(days=closed_day if closed_day is not None else day)
        return self.zendesk.add_ticket(requester_id=requester, status=status,
                                       created_at=iso(created), updated_at=iso(updated), **more)

    def run(self, *, since: datetime = SINCE, until: datetime | None = None,
            dry_run: bool = False,
            on_page: Callable[[BackfillReport], None] = lambda report: None) -> BackfillReport:
        return backfill(since, until, self.deps, dry_run=dry_run, on_page=on_page)

    @property
    def sent(self) -> list[str]:
        """unique_ids of every event sent, in every bulk job (a resend shows up twice)."""
        return [e.unique_id for job in self.klaviyo.bulk_jobs for e in job]


def opened(tid: int) -> str:
    return f"zendesk-ticket-{tid}-opened"


def resolved(tid: int) -> str:
    return f"zendesk-ticket-{tid}-resolved"


def test_past_tickets_are_sent_in_bulk_marked_as_backfill() -> None:
    history = History()
    open_one = history.ticket(day=3)
    closed_one = history.ticket(day=5, status="closed", closed_day=9)
    report = history.run()
    assert history.sent == [opened(open_one), opened(closed_one), resolved(closed_one)]
    assert history.klaviyo.backfilled == set(history.sent)
    assert len(history.klaviyo.bulk_jobs) == 1
    assert (report.events, report.bulk_calls) == (3, 1)
    assert report.by_metric == {OPENED: 2, RESOLVED: 1}


def test_backfilled_events_carry_the_tickets_real_times_and_statuses() -> None:
    history = History()
    tid = history.ticket(day=5, status="closed", closed_day=9)
    history.run()
    events = {e.metric: e for job in history.klaviyo.bulk_jobs for e in job}
    assert events[OPENED].time == iso(SINCE + timedelta(days=5))
    assert events[OPENED].properties["Status"] == "new"
    assert events[RESOLVED].time == iso(SINCE + timedelta(days=9))
    assert events[RESOLVED].properties["Status"] == "closed"
    assert events[RESOLVED].ticket_id == tid


def test_only_what_happened_within_the_window_is_sent() -> None:
    history = History()
    history.ticket(day=-10)                                        # opened before `since`
    closed_late = history.ticket(day=-10, status="closed", closed_day=2)
    after = history.ticket(day=40)                                 # opened after `until`
    history.run(until=SINCE + timedelta(days=30))
    assert history.sent == [resolved(closed_late)]
    assert after not in [e.ticket_id for job in history.klaviyo.bulk_jobs for e in job]


def test_tickets_live_sync_already_recorded_are_skipped() -> None:
    history = History()
    recorded = history.ticket(day=1, status="closed", closed_day=2)
    other = history.ticket(day=3)
    history.store.ledger.mark_metric_done(recorded, OPENED)
    history.store.ledger.mark_metric_done(recorded, RESOLVED)
    report = history.run()
    assert history.sent == [opened(other)]
    assert report.skipped == 2


def test_the_same_run_again_sends_nothing_again() -> None:
    history = History()
    history.ticket(day=1)
    history.run()
    assert history.run().events == 0
    assert len(history.sent) == 1


def test_a_run_over_an_overlapping_window_skips_what_an_earlier_run_sent() -> None:
    history = History()
    tid = history.ticket(day=1)
    history.run()
    report = history.run(since=SINCE - timedelta(days=30))     # its own cursor: reads it all
    assert history.sent == [opened(tid)]
    assert report.skipped == 1


def test_a_requester_with_neither_email_nor_phone_is_counted_not_sent() -> None:
    history = History()
    history.ticket(day=1, email=None)
    report = history.run()
    assert history.sent == []
    assert report.no_identity == 1


def test_an_interrupted_run_resumes_from_its_saved_cursor_without_resending() -> None:
    history = History(page_size=2)
    tickets = [history.ticket(day=d) for d in range(5)]       # pages: 2, 2, 1

    def klaviyo_fails_after_the_first_page(report: BackfillReport) -> None:
        if report.export_calls == 1:
            history.klaviyo.fail_next("bulk_create_events", Retryable("klaviyo", "503"))

    with pytest.raises(Retryable):
        history.run(on_page=klaviyo_fails_after_the_first_page)
    assert history.sent == [opened(t) for t in tickets[:2]]

    report = history.run()
    assert history.sent == [opened(t) for t in tickets]
    assert report.export_calls == 2                        # pages 2 and 3, not page 1 again
    assert report.skipped == 0


def test_a_dry_run_sends_nothing_and_leaves_nothing_behind() -> None:
    history = History()
    tid = history.ticket(day=1, status="closed", closed_day=2)
    report = history.run(dry_run=True)
    assert (report.events, report.bulk_calls) == (2, 0)
    assert history.klaviyo.bulk_jobs == []
    assert not history.store.ledger.metric_done(tid, OPENED)
    history.run()                                          # the real run still sends all
    assert history.sent == [opened(tid), resolved(tid)]


# --- brands (E7, #16) -----------------------------------------------------------------------
def test_a_brands_run_sends_only_its_tickets_and_counts_the_others() -> None:
    history = History()
    mine = history.ticket(day=1, brand_id=8002)
    history.ticket(day=2, brand_id=8001)
    history.deps.wanted = lambda ticket: ticket.get("brand_id") == 8002
    with scope("shop2"):
        report = history.run()
    assert history.sent == [opened(mine)]
    assert (report.tickets, report.other_brands, report.events) == (2, 1, 1)


def test_each_brand_keeps_its_own_export_cursor_over_the_same_days() -> None:
    history = History(page_size=1)
    tickets = [history.ticket(day=d, brand_id=8001 + d % 2) for d in range(3)]
    history.deps.wanted = lambda ticket: ticket.get("brand_id") == 8001
    history.run()                                  # the default brand's run, to the end
    history.deps.wanted = lambda ticket: ticket.get("brand_id") == 8002
    with scope("shop2"):
        report = history.run()                     # not resumed from the default's cursor
    assert report.export_calls >= 3 and history.sent.count(opened(tickets[1])) == 1
    assert cursor_key(SINCE, None) == f"backfill:{int(SINCE.timestamp())}:now"
    with scope("shop2"):
        assert cursor_key(SINCE, None) == f"backfill@shop2:{int(SINCE.timestamp())}:now"
