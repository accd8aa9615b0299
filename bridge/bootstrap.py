"""Composition root: builds the Redis stores, the API clients and every handler's dependencies
from `Settings`, once per process. Nothing else constructs clients or stores, nothing does so
at import time, and this is the only module of bridge/ that imports every layer."""

from __future__ import annotations

from collections.abc import Callable

from bridge import brands, budgets
from bridge.adapters.klaviyo import KlaviyoClient
from bridge.adapters.redis_client import connect
from bridge.adapters.store import Store
from bridge.adapters.zendesk import ZendeskClient
from bridge.adapters.zendesk_admin import ZendeskAdmin
from bridge.adapters.zendesk_auth import ClientCredentials
from bridge.adapters.zendesk_bulk import ZendeskBulk
from bridge.brands import Brand
from bridge.budgets import Budgets
from bridge.config import Settings
from bridge.domain import quiet_hours
from bridge.domain.opt_out import phrase_list
from bridge.domain.sms_rules import Policy
from bridge.handlers.agent_reply import ReplyDeps
from bridge.handlers.bulk_drain import BulkDeps
from bridge.handlers.campaign_note import CampaignDeps
from bridge.handlers.open_sms_rebuild import RebuildDeps
from bridge.handlers.reconcile import ReconcileDeps, ReconcileEnqueue
from bridge.handlers.reply_hold import HoldPolicy
from bridge.handlers.sms_inbound import InboundDeps
from bridge.handlers.ticket_event import TicketEventDeps
from bridge.handlers.ticket_metric import MetricsDeps
from bridge.ops.backfill import BackfillDeps
from bridge.ops.provision import VIEW_TITLE


def store(settings: Settings) -> Store:
    client = connect(settings.redis_url, settings.redis_sentinels, settings.redis_master_name,
                     settings.redis_sentinel_password)
    return Store(client, event_ttl=settings.event_ttl_seconds,
                 wait_replicas=settings.redis_wait_replicas, wait_ms=settings.redis_wait_ms,
                 dedup_window=settings.dedup_window_seconds)


def zendesk_client(settings: Settings, st: Store | None = None) -> ZendeskClient:
    """With the store, every call first takes its share of the shared budgets (E3) and every
    attempt is counted for /metrics."""
    return ZendeskClient(settings.zendesk_url, email=settings.zendesk_email,
                         api_token=settings.zendesk_api_token,
                         oauth_token=settings.zendesk_oauth_token,
                         auth=zendesk_oauth(settings, st),
                         timeout=settings.http_timeout_seconds,
                         observe=st.outcomes.upstream_observer() if st else None,
                         gate=zendesk_gate(settings, st) if st else None)


def zendesk_gate(settings: Settings, st: Store) -> budgets.Gate:
    """With a brands file, brands take turns on the one Zendesk account's budgets (E7); one
    brand keeps today's plain budget (same keys, same members)."""
    table = budgets.zendesk_budgets(settings)
    if settings.brands_file:
        return budgets.fair_gate(st.fair_quota, table)
    return budgets.gate(st.quota, table)


def for_brand(settings: Settings, brand: Brand) -> Settings:
    """The settings a brand's handlers are built with (bridge/brands.py)."""
    return brands.brand_settings(settings, brand)


def zendesk_oauth(settings: Settings, st: Store | None = None) -> ClientCredentials | None:
    """The OAuth client's shared bearer token (zendesk_auth.py), when one is configured; the
    token lives in Redis, so a process without a store (the CLI) opens one."""
    if not (settings.zendesk_oauth_client_id and settings.zendesk_oauth_client_secret):
        return None
    tokens = (st or store(settings)).zendesk_tokens
    return ClientCredentials(f"{settings.zendesk_url}/oauth/tokens",
                             settings.zendesk_oauth_client_id,
                             settings.zendesk_oauth_client_secret,
                             settings.zendesk_oauth_scope, tokens,
                             timeout=settings.http_timeout_seconds)


def klaviyo_client(settings: Settings, st: Store | None = None) -> KlaviyoClient:
    return KlaviyoClient(settings.klaviyo_base_url, api_key=settings.klaviyo_api_key,
                         revision=settings.klaviyo_revision,
                         timeout=settings.http_timeout_seconds,
                         observe=st.outcomes.upstream_observer() if st else None,
                         gate=budgets.gate(st.quota, budgets.klaviyo_budgets(settings))
                         if st else None)


def zendesk_admin(settings: Settings) -> ZendeskAdmin:
    """The admin endpoints `provision` calls, with the same credentials and timeouts."""
    return ZendeskAdmin(zendesk_client(settings).http)


def policy(settings: Settings) -> Policy:
    return Policy(sync_enabled=settings.sync_sms_conversations,
                  custom_keywords=settings.sms_keywords,
                  opt_out_match=settings.sms_opt_out_match,
                  opt_out_phrases=phrase_list(settings.sms_opt_out_phrases),
                  solved_reopen_hours=settings.solved_reopen_hours,
                  subject_template=settings.sms_subject_template)


def inbound_deps(settings: Settings, shared_store: Store | None = None) -> InboundDeps:
    st = shared_store or store(settings)
    return InboundDeps(store=st, zendesk=zendesk_client(settings, st),
                       klaviyo=klaviyo_client(settings, st), policy=policy(settings),
                       tags=settings.sms_ticket_tags, group_id=settings.zendesk_group_id,
                       brand_id=settings.zendesk_brand_id,
                       bulk_writes=settings.zendesk_bulk_writes,
                       ticket_context=settings.ticket_context,
                       context_field_id=settings.zendesk_context_field_id,
                       settle_seconds=settings.inbound_settle_ms / 1000,
                       max_attempts=settings.max_attempts)


def bulk_deps(settings: Settings, st: Store) -> BulkDeps:
    """E6: the drainer of staged texts, its jobs through the same funnel and budgets."""
    return BulkDeps(store=st, zendesk=ZendeskBulk(zendesk_client(settings, st).http))


def reply_deps(settings: Settings, shared_store: Store | None = None) -> ReplyDeps:
    st = shared_store or store(settings)
    return ReplyDeps(store=st, zendesk=zendesk_client(settings, st),
                     klaviyo=klaviyo_client(settings, st), quota=st.quota,
                     budget=Budgets.from_settings(settings).messages,
                     mode=settings.sms_reply_mode, max_attempts=settings.max_attempts,
                     settle_seconds=settings.reply_settle_ms / 1000,
                     confirm_seconds=float(settings.reply_confirm_seconds),
                     reserve_slots=settings.quota_reservations, holds=holds(settings))


def holds(settings: Settings) -> HoldPolicy:
    """A8 quiet hours (off without QUIET_HOURS) and S10's hold (always on)."""
    if not settings.quiet_hours or not settings.quiet_hours_tz:
        return HoldPolicy(template_metric=settings.whatsapp_template_flow_metric)
    return HoldPolicy(quiet=quiet_hours.parse(settings.quiet_hours, settings.quiet_hours_tz),
                      template_metric=settings.whatsapp_template_flow_metric)


def metrics_deps(settings: Settings, shared_store: Store | None = None) -> MetricsDeps:
    st = shared_store or store(settings)
    return MetricsDeps(store=st, zendesk=zendesk_client(settings, st),
                       klaviyo=klaviyo_client(settings, st), quota=st.quota,
                       events_budget=Budgets.from_settings(settings).events,
                       zendesk_url=settings.zendesk_url,
                       support_property=settings.support_state_property)


def ticket_event_deps(settings: Settings, shared_store: Store | None = None) -> TicketEventDeps:
    st = shared_store or store(settings)
    return TicketEventDeps(store=st, replies=reply_deps(settings, st),
                           metrics=metrics_deps(settings, st), max_attempts=settings.max_attempts)


def campaign_deps(settings: Settings, shared_store: Store | None = None,
                  owns: Callable[[str], bool] | None = None) -> CampaignDeps:
    st = shared_store or store(settings)
    return CampaignDeps(store=st, zendesk=zendesk_client(settings, st),
                        max_attempts=settings.max_attempts,
                        owns=owns or (lambda number: True),
                        bulk_writes=settings.zendesk_bulk_writes)


def open_sms_rebuild_deps(settings: Settings, st: Store) -> RebuildDeps:
    """E6: the sweep's rebuild of the open-SMS index, from provision's "SMS tickets" view."""
    return RebuildDeps(store=st, zendesk=zendesk_client(settings, st), view_title=VIEW_TITLE)


def reconcile_deps(settings: Settings, st: Store, enqueue_metric: ReconcileEnqueue,
                   ) -> ReconcileDeps:
    return ReconcileDeps(store=st, zendesk=zendesk_client(settings, st), quota=st.quota,
                         enqueue_metric=enqueue_metric,
                         budget=Budgets.from_settings(settings).export)


def backfill_deps(settings: Settings, page_size: int = 1000) -> BackfillDeps:
    st = store(settings)
    return BackfillDeps(store=st, zendesk=zendesk_client(settings, st),
                        klaviyo=klaviyo_client(settings, st), quota=st.quota,
                        zendesk_url=settings.zendesk_url,
                        export_budget=Budgets.from_settings(settings).export,
                        page_size=page_size, support_property=settings.support_state_property)
