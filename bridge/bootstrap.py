"""Composition root: builds clients, store and handler dependencies from `Settings`, once per
process. Nothing else constructs clients, and nothing does so at import time."""

from __future__ import annotations

import redis

from bridge import budgets
from bridge.adapters.http import Observer
from bridge.adapters.klaviyo import KlaviyoClient
from bridge.adapters.meters import upstream_observer
from bridge.adapters.quota import Quota
from bridge.adapters.store import Store
from bridge.adapters.zendesk import ZendeskClient
from bridge.config import Settings
from bridge.domain.model import Budget
from bridge.domain.sms_rules import Policy
from bridge.handlers.agent_reply import ReplyDeps
from bridge.handlers.campaign_note import CampaignDeps
from bridge.handlers.sms_inbound import InboundDeps
from bridge.handlers.ticket_event import TicketEventDeps
from bridge.handlers.ticket_metric import MetricsDeps


def redis_client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=3,
                                health_check_interval=30)


def store(settings: Settings) -> Store:
    return Store(redis_client(settings), event_ttl=settings.event_ttl_seconds)


def zendesk_client(settings: Settings, quota: Quota | None = None,
                   observe: Observer | None = None) -> ZendeskClient:
    """With `quota`, every call first takes its share of the shared budgets (E3); `observe`
    sees every attempt (see `counted`)."""
    return ZendeskClient(settings.zendesk_url, email=settings.zendesk_email,
                         api_token=settings.zendesk_api_token,
                         oauth_token=settings.zendesk_oauth_token,
                         timeout=settings.http_timeout_seconds, observe=observe,
                         gate=budgets.gate(quota, budgets.zendesk_budgets(settings))
                         if quota else None)


def klaviyo_client(settings: Settings, quota: Quota | None = None,
                   observe: Observer | None = None) -> KlaviyoClient:
    return KlaviyoClient(settings.klaviyo_base_url, api_key=settings.klaviyo_api_key,
                         revision=settings.klaviyo_revision,
                         timeout=settings.http_timeout_seconds, observe=observe,
                         gate=budgets.gate(quota, budgets.klaviyo_budgets(settings))
                         if quota else None)


def counted(st: Store) -> Observer:
    """Every upstream attempt counted in Redis by API, endpoint and status, for /metrics."""
    return upstream_observer(st.r)


def policy(settings: Settings) -> Policy:
    return Policy(sync_enabled=settings.sync_sms_conversations,
                  custom_keywords=settings.sms_keywords,
                  opt_out_match=settings.sms_opt_out_match,
                  subject_template=settings.sms_subject_template)


def inbound_deps(settings: Settings, shared_store: Store | None = None) -> InboundDeps:
    st = shared_store or store(settings)
    quota = Quota(st.r)
    return InboundDeps(store=st, zendesk=zendesk_client(settings, quota, counted(st)),
                       klaviyo=klaviyo_client(settings, quota, counted(st)),
                       policy=policy(settings),
                       tags=settings.sms_ticket_tags, group_id=settings.zendesk_group_id,
                       brand_id=settings.zendesk_brand_id,
                       settle_seconds=settings.inbound_settle_ms / 1000,
                       max_attempts=settings.max_attempts)


def reply_deps(settings: Settings, shared_store: Store | None = None) -> ReplyDeps:
    st = shared_store or store(settings)
    quota = Quota(st.r)
    return ReplyDeps(store=st, zendesk=zendesk_client(settings, quota, counted(st)),
                     klaviyo=klaviyo_client(settings, quota, counted(st)), quota=quota,
                     budget=Budget.per_minute("klaviyo-conversation-messages",
                                              settings.klaviyo_messages_per_minute,
                                              per_second=3),
                     mode=settings.sms_reply_mode, max_attempts=settings.max_attempts,
                     settle_seconds=settings.reply_settle_ms / 1000)


def metrics_deps(settings: Settings, shared_store: Store | None = None) -> MetricsDeps:
    st = shared_store or store(settings)
    quota = Quota(st.r)
    return MetricsDeps(store=st, zendesk=zendesk_client(settings, quota, counted(st)),
                       klaviyo=klaviyo_client(settings, quota, counted(st)), quota=quota,
                       events_budget=Budget.per_minute("klaviyo-events",
                                                       settings.klaviyo_events_per_minute,
                                                       per_second=350),
                       zendesk_url=settings.zendesk_url)


def ticket_event_deps(settings: Settings, shared_store: Store | None = None) -> TicketEventDeps:
    st = shared_store or store(settings)
    return TicketEventDeps(store=st, replies=reply_deps(settings, st),
                           metrics=metrics_deps(settings, st), max_attempts=settings.max_attempts)


def campaign_deps(settings: Settings, shared_store: Store | None = None) -> CampaignDeps:
    st = shared_store or store(settings)
    return CampaignDeps(store=st, zendesk=zendesk_client(settings, Quota(st.r), counted(st)),
                        max_attempts=settings.max_attempts)
