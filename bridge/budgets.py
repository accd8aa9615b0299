"""Which shared budgets (quota.py) each upstream call spends (E3). Defaults are the vendors'
published limits (Zendesk Team plan: 200 requests/min, 100 ticket updates/min; Klaviyo: 750
profile reads/min, 60 conversation reads/min, 15 account reads/min).

Three calls are budgeted by their handlers instead, before any other call is made, so a job
waiting for its turn spends nothing: conversation messages (replies.py), single events
(metrics.py) and bulk event jobs (backfill.py). The export's own 10/min is taken by its callers
(reconcile.py, backfill.py); it also counts against the Zendesk account budget here.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge.adapters.quota import Quota
from bridge.config import Settings
from bridge.domain.model import Budget

HANDLER_BUDGETED = frozenset({"POST conversation-messages", "POST events",
                              "POST event-bulk-create-jobs"})


def zendesk_budgets(settings: Settings) -> Callable[[str], tuple[Budget, ...]]:
    account = Budget.per_minute("zendesk", settings.zendesk_requests_per_minute)
    updates = Budget.per_minute("zendesk-ticket-updates",
                               settings.zendesk_updates_per_minute)

    def budgets(endpoint: str) -> tuple[Budget, ...]:
        return (account, updates) if endpoint == "PUT tickets/{id}" else (account,)
    return budgets


def klaviyo_budgets(settings: Settings) -> Callable[[str], tuple[Budget, ...]]:
    profiles = Budget.per_minute("klaviyo-profiles", settings.klaviyo_profiles_per_minute,
                                 per_second=75)
    conversations = Budget.per_minute("klaviyo-conversations", 60, per_second=3)
    accounts = Budget.per_minute("klaviyo-accounts", 15, per_second=1)

    def budgets(endpoint: str) -> tuple[Budget, ...]:
        if endpoint in HANDLER_BUDGETED:
            return ()
        if endpoint == "GET profiles/{id}/conversations":
            return (conversations,)
        if endpoint.startswith("GET profiles"):
            return (profiles,)
        if endpoint == "GET accounts":
            return (accounts,)
        return ()
    return budgets


def gate(quota: Quota, budgets: Callable[[str], tuple[Budget, ...]]) -> Callable[[str], float]:
    """The Funnel hook: seconds to wait before `endpoint` may be called (0: go now)."""
    return lambda endpoint: quota.take(*budgets(endpoint))
