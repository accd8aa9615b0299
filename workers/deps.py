"""What the tasks of one worker process share, built once per process on first use: settings,
the store (one Redis connection pool per process) and the handlers' dependencies.

Every direct use of the store by workers/ is one of the three functions at the bottom, so a
change to the store's shape is made here and nowhere else in workers/.
"""

from __future__ import annotations

from functools import cache

from bridge import bootstrap
from bridge.adapters.store import Store
from bridge.config import Settings
from bridge.handlers.bulk_drain import BulkDeps
from bridge.handlers.campaign_note import CampaignDeps
from bridge.handlers.sms_inbound import InboundDeps
from bridge.handlers.ticket_event import TicketEventDeps


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def store() -> Store:
    return bootstrap.store(settings())


@cache
def inbound_deps() -> InboundDeps:
    return bootstrap.inbound_deps(settings(), store())


@cache
def bulk_deps() -> BulkDeps:
    return bootstrap.bulk_deps(settings(), store())


@cache
def ticket_event_deps() -> TicketEventDeps:
    return bootstrap.ticket_event_deps(settings(), store())


@cache
def campaign_deps() -> CampaignDeps:
    return bootstrap.campaign_deps(settings(), store())


# --- the store, as workers/ uses it directly ------------------------------------------------
def ping() -> bool:
    """Raises redis.RedisError while Redis does not answer."""
    return store().ping()


def count_retry(task: str, why: str) -> None:
    """A task retry by task and cause, for /metrics (never raises)."""
    store().outcomes.count_retry(task, why)


def count(kind: str, outcome: str, reason: str) -> None:
    store().outcomes.count(kind, outcome, reason)
