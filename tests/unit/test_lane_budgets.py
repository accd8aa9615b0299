"""E6 budget shares: background work (campaign notes, metrics, sweeps, backfill) keeps a quarter
of each Zendesk window free, so a customer's text finds a call even while a flood of background
work has used up everything it may."""

from __future__ import annotations

import fakeredis

from bridge.adapters.quota import Quota
from bridge.budgets import background_lane, zendesk_budgets
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
