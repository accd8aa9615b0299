"""E6 budget shares: background work (campaign notes, metrics, sweeps, backfill) keeps a quarter
of each Zendesk window free, so a customer's text finds a call even while a flood of background
work has used up everything it may."""

from __future__ import annotations

import fakeredis

from bridge.adapters.quota import Quota
from bridge.budgets import background_lane, later_jobs, zendesk_budgets
from bridge.config import Settings


def settings(**limits: int) -> Settings:
    return Settings(zendesk_url="https://acme.zendesk.com", zendesk_webhook_secret="s" * 20,
                    klaviyo_api_key="pk_" + "k" * 20, klaviyo_webhook_secret="s" * 20, **limits)


def spend(quota: Quota, table, endpoint: str, times: int) -> int:  # noqa: ANN001
    """How many of `times` calls are granted."""
    return sum(quota.take(*table(endpoint)) == 0 for _ in range(times))


def test_background_work_leaves_a_quarter_of_the_zendesk_budget_to_interactive_work() -> None:
    quota, table = Quota(fakeredis.FakeRedis()), zendesk_budgets(settings(
        zendesk_requests_per_minute=200))
    with background_lane():
        assert spend(quota, table, "GET tickets/{id}", 500) == 149      # 75% of 199
    assert spend(quota, table, "PUT tickets/{id}", 500) == 50            # the rest is theirs
    with background_lane():
        assert spend(quota, table, "GET tickets/{id}", 1) == 0


def test_ticket_updates_are_shared_the_same_way() -> None:
    quota, table = Quota(fakeredis.FakeRedis()), zendesk_budgets(settings(
        zendesk_updates_per_minute=100))
    with background_lane():
        assert spend(quota, table, "PUT tickets/{id}", 200) == 74
    assert spend(quota, table, "PUT tickets/{id}", 200) == 25


def test_the_drainers_new_conversation_jobs_leave_part_of_its_pace_to_follow_ups() -> None:
    """E6: at the Team plan the drainer may make 25 calls in any 10 s; jobs for new
    conversations and notes stop at 15 of them, so follow-ups' jobs and the reads of answers
    still find 10 (they, in turn, may use the whole pace)."""
    quota, table = Quota(fakeredis.FakeRedis()), zendesk_budgets(settings(
        zendesk_requests_per_minute=200))
    with later_jobs():
        assert spend(quota, table, "POST tickets/create_many", 50) == 15
    assert spend(quota, table, "PUT tickets/update_many", 50) == 10
    assert spend(quota, table, "GET job_statuses/show_many", 1) == 0


def test_follow_ups_may_use_the_drainers_whole_pace() -> None:
    quota, table = Quota(fakeredis.FakeRedis()), zendesk_budgets(settings(
        zendesk_requests_per_minute=200))
    assert spend(quota, table, "PUT tickets/update_many", 50) == 25
    with later_jobs():
        assert spend(quota, table, "POST users/create_or_update_many", 1) == 0
