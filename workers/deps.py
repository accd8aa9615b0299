"""What the tasks of one worker process share, built once per process on first use: settings,
the brands, the store (one Redis connection pool per process) and the handlers' dependencies,
one set per brand (E7: its Klaviyo account, keywords, Zendesk brand; one store, one Zendesk).

Every direct use of the store by workers/ is one of the three functions at the bottom, so a
change to the store's shape is made here and nowhere else in workers/.
"""

from __future__ import annotations

from functools import cache

from bridge import bootstrap
from bridge.adapters.store import Store
from bridge.brands import Brand, brand_named, owns_number, settings_and_brands
from bridge.config import Settings
from bridge.domain.brand_scope import DEFAULT
from bridge.errors import ConfigError
from bridge.handlers.bulk_drain import BulkDeps
from bridge.handlers.campaign_note import CampaignDeps
from bridge.handlers.sms_inbound import InboundDeps
from bridge.handlers.ticket_event import TicketEventDeps


@cache
def _configured() -> tuple[Settings, tuple[Brand, ...]]:
    return settings_and_brands()


def settings() -> Settings:
    return _configured()[0]


def brands() -> tuple[Brand, ...]:
    """The default brand first, then the brands file's (bridge/brands.py)."""
    return _configured()[1]


def brand(name: str) -> Brand:
    """The configured brand `name`; `ConfigError` for a brand no longer configured (an event
    kept from before its removal: the task sets it aside, nothing is sent with another brand's
    account)."""
    found = brand_named(brands(), name)
    if found is None:
        raise ConfigError([f"brand {name!r} is not configured (BRANDS_FILE)"])
    return found


@cache
def brand_settings(name: str = DEFAULT) -> Settings:
    return bootstrap.for_brand(settings(), brand(name))


@cache
def store() -> Store:
    return bootstrap.store(settings())


@cache
def inbound_deps(brand: str = DEFAULT) -> InboundDeps:
    return bootstrap.inbound_deps(brand_settings(brand), store())


@cache
def bulk_deps() -> BulkDeps:
    return bootstrap.bulk_deps(settings(), store())


@cache
def ticket_event_deps(brand: str = DEFAULT) -> TicketEventDeps:
    return bootstrap.ticket_event_deps(brand_settings(brand), store())


@cache
def campaign_deps(name: str = DEFAULT) -> CampaignDeps:
    return bootstrap.campaign_deps(brand_settings(name), store(),
                                   owns=owns_number(brands(), brand(name)))


# --- the store, as workers/ uses it directly ------------------------------------------------
def ping() -> bool:
    """Raises redis.RedisError while Redis does not answer."""
    return store().ping()


def count_retry(task: str, why: str) -> None:
    """A task retry by task and cause, for /metrics (never raises)."""
    store().outcomes.count_retry(task, why)


def count(kind: str, outcome: str, reason: str) -> None:
    store().outcomes.count(kind, outcome, reason)
