"""E3: every shared request budget, its limits (from Settings) and what spends it, in one place.

Defaults are the vendors' published limits (Zendesk Team plan: 200 requests/min, 100 ticket
updates/min, 10 export requests/min; Klaviyo: 750 profile reads/min, 60 conversation reads/min,
15 account reads/min, 60 conversation messages/min, 3500 events/min, 150 bulk jobs/min).
The budgets live in Redis (adapters/quota.py), so a whole fleet stays under an account limit.

Who spends what:
- the HTTP funnel, per endpoint, before each call (`zendesk_budgets`, `klaviyo_budgets`);
- handlers, before any other call, so a job waiting for its turn spends nothing: conversation
  messages (handlers/agent_reply.py), single events (handlers/ticket_metric.py), bulk event
  jobs (handlers/metric_burst.py, ops/backfill.py);
- the export's 10/min, by its callers (handlers/reconcile.py, ops/backfill.py); each export
  call also counts against the Zendesk account budget in the funnel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from bridge.config import Settings
from bridge.domain.brand_scope import current
from bridge.domain.model import Budget
from bridge.ports import FairQuotaPort, QuotaPort

# Spent by handlers themselves (see above), so the funnel takes nothing for them.
HANDLER_BUDGETED = frozenset({"POST conversation-messages", "POST events",
                              "POST event-bulk-create-jobs"})
# Calls that spend the Update Ticket budget as well as the account's; an update_many job counts
# as one update [assumed: undocumented, see adapters/zendesk_bulk.py] (E6).
TICKET_UPDATES = frozenset({"PUT tickets/{id}", "PUT tickets/update_many"})
BudgetTable = Callable[[str], tuple[Budget, ...]]   # endpoint -> budgets its call spends
Gate = Callable[[str], float]                       # endpoint -> seconds to wait (0: go)
BULK_MAX = 1000            # events per Klaviyo bulk job
BULK_MAX_BYTES = 4_500_000  # event JSON per bulk job: Klaviyo takes 5 MB, wrappers included
BULK_BUDGET = Budget.per_minute("klaviyo-bulk-events", 150, per_second=10)


def export_budget(per_minute: int = 10) -> Budget:
    """Zendesk allows 10 export requests a minute; shared by the sweep and the backfill."""
    return Budget.per_minute("zendesk-incremental-export", per_minute)


@dataclass(frozen=True)
class Budgets:
    """The budgets handlers take themselves, with the limits configured for this account."""

    messages: Budget       # Klaviyo conversation messages (replies, A6)
    events: Budget         # Klaviyo single events (ticket metrics, M1)
    export: Budget         # Zendesk incremental export (catch-up sweep, backfill)

    @classmethod
    def from_settings(cls, settings: Settings) -> Budgets:
        return cls(
            messages=Budget.per_minute("klaviyo-conversation-messages",
                                       settings.klaviyo_messages_per_minute, per_second=3),
            events=Budget.per_minute("klaviyo-events", settings.klaviyo_events_per_minute,
                                     per_second=350),
            export=export_budget(settings.zendesk_exports_per_minute))


def zendesk_budgets(settings: Settings) -> BudgetTable:
    account = Budget.per_minute("zendesk", settings.zendesk_requests_per_minute)
    updates = Budget.per_minute("zendesk-ticket-updates",
                               settings.zendesk_updates_per_minute)

    pace = bulk_pace(settings.zendesk_requests_per_minute)
    later = share_of(pace, 1 - FOLLOW_UP_RESERVE)

    def budgets(endpoint: str) -> tuple[Budget, ...]:
        wanted = (account, updates) if endpoint in TICKET_UPDATES else (account,)
        if endpoint in BULK_ENDPOINTS:
            wanted += (later if _later_job.get() else pace,)
        if _lane.get() != INTERACTIVE:
            return tuple(map(background_share, wanted))
        return tuple(map(stageable_share, wanted)) if _stageable.get() else wanted
    return budgets


# --- priority lanes (E6) ------------------------------------------------------------------------
# Interactive work (customers' texts, agents' replies) takes what it needs of Zendesk's budgets
# first; background work (campaign notes, ticket metrics, sweeps, backfill) uses what is left
# while keeping BACKGROUND_RESERVE of each window free for interactive calls. Same windows (same
# Redis keys), a lower ceiling: a background call waits once the window is 75% full, an
# interactive one only when it is full.
INTERACTIVE, BACKGROUND = "interactive", "background"
BACKGROUND_RESERVE = 0.25
_lane: ContextVar[str] = ContextVar("zkb_lane", default=INTERACTIVE)


def background_share(budget: Budget) -> Budget:
    return share_of(budget, 1 - BACKGROUND_RESERVE)


# E6 bulk writes: a customer's text whose single write could wait for a bulk job instead
# (handlers/bulk_stage.py) takes that call only while BULK_RESERVE of the window is still free
# (half: more than the quarter background work leaves); past that it is staged. So a flood's
# first single writes never fill the window and lock the bulk drainer (one call per up to 100
# texts) out of it for the rest of the minute, as they did (staged texts waited 40-50 s for
# it; with a quarter reserved, ~10 s at the full-scale campaign's first minute). A quiet
# system (under half the account's calls a minute) never meets it.
# The drainer's own calls are paced to BULK_PACE of the limit in any 10 s (`bulk_pace`): a
# drainer run every second must not spend a minute's room in a burst and then wait out the
# window itself (at the Team plan: 25 calls per 10 s, each job up to 100 texts). Within that
# pace, follow-ups (comments on a live conversation) and the reads of jobs' answers come first:
# the jobs of new conversations and campaign notes stop at 1 - FOLLOW_UP_RESERVE of it
# (`later_jobs`), so a follow-up is packed at the drainer's next run instead of waiting seconds
# for the window (bench/campaign.py's control customers: up to 5 s at a pace of 16 with no
# reserve), and a new conversation's jobs grow instead (fewer calls per text).
BULK_RESERVE = 0.5
BULK_PACE = 0.75
FOLLOW_UP_RESERVE = 0.4
BULK_ENDPOINTS = frozenset({"PUT tickets/update_many", "POST tickets/create_many",
                            "POST users/create_or_update_many", "GET job_statuses/show_many"})
_stageable: ContextVar[bool] = ContextVar("zkb_stageable", default=False)
_later_job: ContextVar[bool] = ContextVar("zkb_later_job", default=False)


def bulk_pace(per_minute: int) -> Budget:
    """The drainer's calls: BULK_PACE of the account's limit, per 10 s (Team: 25)."""
    return Budget("zendesk-bulk-pace", ((max(2, int(per_minute * BULK_PACE / 6)), 10.0),))


def share_of(budget: Budget, share: float) -> Budget:
    """The same windows (same Redis keys) with a lower ceiling: a call made under it waits
    once `share` of a window is used, leaving the rest to calls under the whole budget."""
    return Budget(budget.name, tuple((max(1, int(limit * share)), seconds)
                                     for limit, seconds in budget.windows))


def stageable_share(budget: Budget) -> Budget:
    return share_of(budget, 1 - BULK_RESERVE)


@contextmanager
def _setting(var: ContextVar[Any], value: object) -> Iterator[None]:
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def stageable_write() -> AbstractContextManager[None]:
    """Calls made inside leave BULK_RESERVE of Zendesk's windows to the bulk drainer."""
    return _setting(_stageable, True)


def later_jobs() -> AbstractContextManager[None]:
    """The drainer's jobs for new conversations and campaign notes: they leave
    FOLLOW_UP_RESERVE of its pace to follow-ups and job reads."""
    return _setting(_later_job, True)


def background_lane() -> AbstractContextManager[None]:
    """Calls made inside spend the background share of Zendesk's budgets."""
    return _setting(_lane, BACKGROUND)


def klaviyo_budgets(settings: Settings) -> BudgetTable:
    profiles = Budget.per_minute("klaviyo-profiles", settings.klaviyo_profiles_per_minute,
                                 per_second=75)
    conversations = Budget.per_minute("klaviyo-conversations", 60, per_second=3)
    accounts = Budget.per_minute("klaviyo-accounts", 15, per_second=1)
    reads = {"GET events": Budget.per_minute("klaviyo-events-read", 700, per_second=75),
             "GET metrics": Budget.per_minute("klaviyo-metrics", 150, per_second=10)}

    def budgets(endpoint: str) -> tuple[Budget, ...]:
        if endpoint in HANDLER_BUDGETED:
            return ()
        if endpoint == "GET profiles/{id}/conversations":
            return (conversations,)
        if endpoint.startswith("GET profiles"):
            return (profiles,)
        if endpoint == "GET accounts":
            return (accounts,)
        return (reads[endpoint],) if endpoint in reads else ()
    return budgets


def gate(quota: QuotaPort, budgets: BudgetTable) -> Gate:
    """The Funnel hook: seconds to wait before `endpoint` may be called (0: go now)."""
    return lambda endpoint: quota.take(*budgets(endpoint))


# E7: work done for every brand at once (the bulk drainer's jobs carry any brand's texts) takes
# its own turn among the brands, under a name no brand can have (names are slugs without `_`):
# counted as the default brand's, a drainer carrying brand B's texts would wait whenever brand A
# (the default) had used its share, and B's staged texts with it.
SHARED = "_shared"
_shared: ContextVar[bool] = ContextVar("zkb_shared_work", default=False)


def shared_work() -> AbstractContextManager[None]:
    """Zendesk calls made inside take the turn of work shared by every brand (the drainer)."""
    return _setting(_shared, True)


def fair_gate(quota: FairQuotaPort, budgets: BudgetTable) -> Gate:
    """The Funnel hook of the shared Zendesk account when several brands use it (E7): the
    brand in scope (domain/brand_scope.py), or the shared work, takes its turn in its lane."""
    return lambda endpoint: quota.take(*budgets(endpoint), lane=_lane.get(),
                                       brand=SHARED if _shared.get() else current(),
                                       claim=not _stageable.get())   # refused: staged (E6)
