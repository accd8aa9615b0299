"""E7 (#16) wiring rules: a brand's settings, which Zendesk ticket belongs to which brand,
which numbers are a brand's (A7 notes), and how an event ref names its brand."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.brands import (
    brand_for_ticket,
    brand_secrets,
    brand_settings,
    owns_number,
    settings_and_brands,
)
from bridge.domain.brand_scope import DEFAULT, brand_of, current, make_ref, scope, source_of
from bridge.domain.model import RawEvent
from tests.unit.test_brands import SHOP2, env_with


@pytest.fixture
def configured(tmp_path: Path):
    env = env_with(tmp_path, SHOP2, ZENDESK_BRAND_ID="8001", ZENDESK_GROUP_ID="7002",
                   SMS_KEYWORDS="help", SMS_TICKET_TAGS="sms")
    return settings_and_brands(env)


def test_a_brands_settings_are_its_account_keywords_and_zendesk_brand(configured) -> None:
    settings, brands = configured
    shop2 = brands[1]
    mine = brand_settings(settings, shop2)
    assert (mine.klaviyo_api_key, mine.klaviyo_webhook_secrets) == ("pk_shop2", ("shop2-secret",))
    assert mine.zendesk_brand_id == 360002
    assert mine.sms_keywords == frozenset({"HELP"})        # unset: the default brand's
    assert mine.zendesk_group_id == 7002 and mine.sms_ticket_tags == ("sms",)
    assert mine.zendesk_url == settings.zendesk_url       # one Zendesk for every brand
    assert brand_settings(settings, brands[0]) is settings


def test_tickets_are_routed_by_zendesk_brand_then_by_brand_number_then_to_default(
        configured) -> None:
    _, brands = configured
    assert brand_for_ticket(brands, 360002).name == "shop2"
    assert brand_for_ticket(brands, 8001).name == DEFAULT
    assert brand_for_ticket(brands, 999, "+18005550199").name == "shop2"   # its number
    assert brand_for_ticket(brands, 999, "+18005550100").name == DEFAULT   # anyone's
    assert brand_for_ticket(brands, None).name == DEFAULT
    # the Zendesk brand wins over a number: a ticket moved to another brand is that brand's
    assert brand_for_ticket(brands, 8001, "+18005550199").name == DEFAULT


def test_a_brand_owns_its_numbers_and_the_default_brand_every_other(configured) -> None:
    _, brands = configured
    shop2, default = owns_number(brands, brands[1]), owns_number(brands, brands[0])
    assert shop2("+18005550199") and shop2("55123") and not shop2("+18005550100")
    assert default("+18005550100") and not default("+18005550199") and not default("55123")


def test_every_brands_secrets_reach_the_log_guard(configured) -> None:
    _, brands = configured
    assert {"pk_shop2", "shop2-secret"} <= set(brand_secrets(brands))


def test_a_default_brands_ref_is_todays_and_anothers_names_it() -> None:
    assert RawEvent("klaviyo", "01J", "sent_sms", {}).ref == "klaviyo:01J"
    ref = RawEvent("klaviyo", "01J", "sent_sms", {}, brand="shop2").ref
    assert ref == make_ref("klaviyo", "01J", "shop2") == "klaviyo@shop2:01J"
    assert (source_of(ref), brand_of(ref)) == ("klaviyo", "shop2")
    assert (source_of("zendesk:77"), brand_of("zendesk:77")) == ("zendesk", DEFAULT)
    assert (source_of("klaviyo:01J"), brand_of("klaviyo:01J")) == ("klaviyo", DEFAULT)


def test_the_scope_is_the_default_brand_outside_and_nests() -> None:
    assert current() == DEFAULT
    with scope("shop2"):
        assert current() == "shop2"
        with scope(None):
            assert current() == DEFAULT
        assert current() == "shop2"
    assert current() == DEFAULT


def test_a_whatsapp_ticket_is_routed_by_its_brand_number_too(configured) -> None:
    _, brands = configured
    assert brand_for_ticket(brands, None, "wa:+18005550199").name == "shop2"
