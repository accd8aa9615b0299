"""E7 (#16) key proposal (adapters/redis_keys.py): a brand's own keys carry `brand:<name>:`,
the default brand keeps today's names (upgrading a single-brand deployment changes nothing),
and the one Zendesk account's keys stay shared."""

from __future__ import annotations

import pytest

from bridge.adapters import redis_keys as keys
from bridge.brands import DEFAULT
from bridge.domain.brand_scope import scope

SCOPED = [keys.profile("01JSANDBOXALICE"), keys.context("01JSANDBOXALICE"),
          keys.sent_text("+15005550101", "hi"), keys.echo("+15005550101", "hi"),
          keys.support_open(42), keys.support_ticket(7), keys.support_hold(42),
          keys.METRICS_PENDING, keys.METRICS_FAILED, keys.quota("klaviyo-profiles", 60)]
SHARED = [keys.quota("zendesk", 60), keys.quota("zendesk-ticket-updates", 60),
          keys.ticket_conversation(7), keys.own_comment(9), keys.reply(9), keys.intent("x"),
          keys.made_ticket(7), keys.group(7002), keys.agent(9001), keys.bulk_item("x"),
          keys.oauth_token("f"), keys.SEQ, keys.DUE, keys.BEAT_LEASE, keys.COUNTERS,
          keys.event("zendesk:abc"), keys.FAILED, keys.posted(42, "hi"),
          # told apart by the brand number (unique across brands) or the ref's `@brand`
          keys.conversation("+15005550101", "+18005550100"), keys.open_sms("+15005550101"),
          keys.ordered_queue("sms:+15005550101"), keys.event("klaviyo:01JX")]


@pytest.mark.parametrize("key", SCOPED + SHARED)
def test_the_default_brand_keeps_todays_key_names(key: str) -> None:
    assert keys.brand_key(key, DEFAULT) == key


@pytest.mark.parametrize("key", SCOPED)
def test_another_brands_own_keys_carry_its_name(key: str) -> None:
    scoped = keys.brand_key(key, "shop2")
    assert scoped == "zkb:brand:shop2:" + key.removeprefix("zkb:")
    assert scoped != keys.brand_key(key, "shop3")


@pytest.mark.parametrize("key", SHARED)
def test_the_zendesk_accounts_keys_are_shared_by_every_brand(key: str) -> None:
    assert keys.brand_key(key, "shop2") == key


def test_no_key_of_today_can_be_taken_for_a_brands_key() -> None:
    assert not any(pattern.startswith("zkb:brand") for pattern in keys.TABLE)
    assert keys.DEFAULT_BRAND == DEFAULT


@pytest.mark.parametrize("prefix", keys.BRAND_SCOPED)
def test_every_scoped_prefix_is_a_declared_key(prefix: str) -> None:
    declared = [p for pattern in keys.TABLE for p in pattern.split(", ")]
    assert any(p.startswith(prefix) or prefix.startswith(p.split("<")[0]) for p in declared)


def test_the_key_functions_follow_the_brand_in_scope() -> None:
    outside = [keys.profile("p"), keys.sent_text("+15005550101", "hi"), keys.support_open(4),
               keys.metrics_pending(), keys.metrics_failed(), keys.quota("klaviyo-events", 1)]
    with scope("shop2"):
        inside = [keys.profile("p"), keys.sent_text("+15005550101", "hi"),
                  keys.support_open(4), keys.metrics_pending(), keys.metrics_failed(),
                  keys.quota("klaviyo-events", 1)]
        shared = [keys.quota("zendesk", 60), keys.conversation("+15005550101", "+1800")]
    assert inside == [keys.brand_key(k, "shop2") for k in outside]
    assert all(k.startswith("zkb:brand:shop2:") for k in inside)
    assert shared == [keys.quota("zendesk", 60), keys.conversation("+15005550101", "+1800")]
    with scope(None):
        assert keys.profile("p") == outside[0]
