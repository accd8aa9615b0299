"""E7 brands as configuration (#16): the single-brand variables are the brand `default`; the
brands file adds brands; the file and the variables are checked together, every problem naming
the brand and the field, and no problem showing a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.brands import (
    DEFAULT,
    Brand,
    brand_for_ticket,
    brand_named,
    default_brand,
    load_brands,
    settings_and_brands,
)
from bridge.config import Settings
from bridge.errors import ConfigError
from tests.unit.test_settings import SANDBOX

SHOP2 = """
[[brand]]
name = "shop2"
klaviyo_api_key = "pk_shop2"
klaviyo_webhook_secret = "shop2-secret"
numbers = ["+1 800 555 0199", "55123", "SHOP2"]
zendesk_brand_id = 360002
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "brands.toml"
    path.write_text(text)
    return str(path)


def env_with(tmp_path: Path, text: str, **changes: str) -> dict[str, str]:
    return {**SANDBOX, "BRANDS_FILE": write(tmp_path, text), **changes}


def brands_of(env: dict[str, str]) -> tuple[Brand, ...]:
    return load_brands(Settings.from_env(env), env)


def problems_of(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        settings_and_brands(env)
    return err.value.problems


# --- the default brand: today's deployment ----------------------------------------------------

def test_without_a_brands_file_the_variables_are_one_brand_named_default() -> None:
    env = {**SANDBOX, "SMS_KEYWORDS": "help,info", "ZENDESK_BRAND_ID": "77",
           "ZENDESK_GROUP_ID": "7002", "SMS_TICKET_TAGS": "sms,vip",
           "KLAVIYO_WEBHOOK_SECRET": "new,old", "SMS_REPLY_MODE": "flow_event"}
    (brand,) = brands_of(env)
    assert brand.name == DEFAULT and brand.is_default
    assert brand.klaviyo_api_key == "pk_test"
    assert brand.klaviyo_webhook_secrets == ("new", "old")
    assert brand.sms_keywords == frozenset({"HELP", "INFO"})
    assert (brand.zendesk_brand_id, brand.zendesk_group_id) == (77, 7002)
    assert brand.sms_ticket_tags == ("sms", "vip") and brand.sms_reply_mode == "flow_event"
    assert brand.numbers == ()          # any number: what a single-brand deployment does today


def test_the_default_brand_is_built_from_settings_alone() -> None:
    settings = Settings.from_env(SANDBOX)
    assert load_brands(settings, {}) == (default_brand(settings),)


def test_secrets_are_kept_out_of_a_brands_repr() -> None:
    (brand,) = brands_of(SANDBOX)
    assert "pk_test" not in repr(brand) and "kl-secret" not in repr(brand)


# --- the file's brands ------------------------------------------------------------------------

def test_a_file_brand_comes_after_the_default_with_canonical_numbers(tmp_path: Path) -> None:
    default, shop2 = brands_of(env_with(tmp_path, SHOP2))
    assert default.is_default and not shop2.is_default
    assert shop2.name == "shop2" and shop2.klaviyo_api_key == "pk_shop2"
    assert shop2.klaviyo_webhook_secrets == ("shop2-secret",)
    assert shop2.numbers == ("+18005550199", "55123", "SHOP2")   # short code, sender ID
    assert shop2.zendesk_brand_id == 360002


def test_unset_optional_fields_are_the_default_brands_and_set_ones_their_own(
        tmp_path: Path) -> None:
    text = SHOP2 + 'sms_keywords = ["help2"]\nsms_ticket_tags = ["sms", "shop2"]\n' \
                   'sms_subject_template = "Shop2: {name}"\nzendesk_group_id = 7003\n'
    env = env_with(tmp_path, text, SMS_REPLY_MODE="flow_event", KLAVIYO_REVISION="2026-01-15",
                   ZENDESK_GROUP_ID="7002", SMS_KEYWORDS="HELP")
    default, shop2 = brands_of(env)
    assert shop2.sms_reply_mode == "flow_event" and shop2.klaviyo_revision == "2026-01-15"
    assert shop2.sms_keywords == frozenset({"HELP2"}) and shop2.zendesk_group_id == 7003
    assert shop2.sms_ticket_tags == ("sms", "shop2")
    assert shop2.sms_subject_template == "Shop2: {name}"
    assert default.zendesk_group_id == 7002 and default.sms_keywords == frozenset({"HELP"})


def test_secrets_come_from_files_named_relative_to_the_brands_file(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("pk_from_file\n")
    (tmp_path / "hook").write_text("new-secret,old-secret\n")
    text = SHOP2.replace('klaviyo_api_key = "pk_shop2"', 'klaviyo_api_key_file = "key"') \
        .replace('klaviyo_webhook_secret = "shop2-secret"', 'klaviyo_webhook_secret_file = "hook"')
    _, shop2 = brands_of(env_with(tmp_path, text))
    assert shop2.klaviyo_api_key == "pk_from_file"
    assert shop2.klaviyo_webhook_secrets == ("new-secret", "old-secret")


def test_a_rotation_lists_several_webhook_secrets(tmp_path: Path) -> None:
    text = SHOP2.replace('"shop2-secret"', '["shop2-new", "shop2-old"]')
    _, shop2 = brands_of(env_with(tmp_path, text))
    assert shop2.klaviyo_webhook_secrets == ("shop2-new", "shop2-old")


def test_brands_are_found_by_name_and_tickets_by_zendesk_brand(tmp_path: Path) -> None:
    brands = brands_of(env_with(tmp_path, SHOP2))
    assert brand_named(brands, "shop2") is brands[1]
    assert brand_named(brands, "nope") is None
    assert brand_for_ticket(brands, 360002).name == "shop2"
    # a ticket in a Zendesk brand no configured brand maps: the default brand's (E7)
    assert brand_for_ticket(brands, 999).is_default
    assert brand_for_ticket(brands, None).is_default


# --- problems, all at once, naming the brand and the field --------------------------------------

def test_every_field_problem_of_a_brand_is_reported_with_its_name(tmp_path: Path) -> None:
    text = """
[[brand]]
name = "shop2"
numbers = ["not a number!"]
zendesk_brand_id = "x"
sms_keywords = ["A"]
sms_reply_mode = "carrier-pigeon"
klaviyo_revision = "latest"
sms_subject_template = "{secret}"
colour = "blue"
"""
    found = problems_of(env_with(tmp_path, text))
    expected = ["klaviyo_api_key is not set", "klaviyo_webhook_secret is not set",
                "numbers entry 'not a number!'", "zendesk_brand_id must be a whole number",
                "sms_keywords entry 'A'", "sms_reply_mode must be", "klaviyo_revision must "
                "look like", "sms_subject_template may only use", "colour is not a brand field"]
    for text_part in expected:
        assert any(p.startswith("BRANDS_FILE brand 'shop2': ") and text_part in p
                   for p in found), (text_part, found)


def test_a_brand_without_a_usable_name_is_named_by_its_place(tmp_path: Path) -> None:
    found = problems_of(env_with(tmp_path, SHOP2 + SHOP2.replace('name = "shop2"',
                                                                'name = "Shop 3"')))
    assert any(p.startswith("BRANDS_FILE brand 'Shop 3': name must be a lower-case slug")
               for p in found)
    found = problems_of(env_with(tmp_path, SHOP2.replace('name = "shop2"\n', "")))
    assert "BRANDS_FILE brand #1: name is not set" in found


def test_the_files_and_the_variables_problems_are_reported_together(tmp_path: Path) -> None:
    env = env_with(tmp_path, SHOP2.replace("360002", "0"))
    del env["KLAVIYO_API_KEY"]
    found = problems_of(env)
    assert "KLAVIYO_API_KEY is not set" in found
    assert any("brand 'shop2': zendesk_brand_id must be a whole number above 0" in p
               for p in found)


def test_brands_may_not_share_a_name_number_zendesk_brand_or_klaviyo_account(
        tmp_path: Path) -> None:
    twin = SHOP2.replace("pk_shop2", "pk_shop3").replace("shop2-secret", "shop3-secret") \
        .replace('"55123"', '"+15005550777"')
    found = problems_of(env_with(tmp_path, SHOP2 + twin))
    assert "BRANDS_FILE brand 'shop2': name 'shop2' is already brand 'shop2''s; brands may " \
           "not share it" in found
    assert "BRANDS_FILE brand 'shop2': number '+18005550199' is already brand 'shop2''s; " \
           "brands may not share it" in found        # the same number, written differently
    assert "BRANDS_FILE brand 'shop2': zendesk_brand_id 360002 is already brand 'shop2''s; " \
           "brands may not share it" in found
    assert not any("'+15005550777'" in p or "55123" in p for p in found)   # not shared


def test_a_second_brand_with_anothers_klaviyo_account_is_refused_without_showing_it(
        tmp_path: Path) -> None:
    shop3 = SHOP2.replace('"shop2"', '"shop3"').replace("+1 800 555 0199", "+18005550198") \
        .replace('"55123"', '"55124"').replace("360002", "360003")
    found = problems_of(env_with(tmp_path, SHOP2 + shop3))
    assert "BRANDS_FILE brand 'shop3': its klaviyo_api_key is already brand 'shop2''s; " \
           "brands may not share it" in found
    assert any("shop3': its klaviyo_webhook_secret is already brand 'shop2''s" in p
               for p in found)
    assert not any("pk_shop2" in p or "shop2-secret" in p for p in found)


def test_a_file_brand_may_not_reuse_the_default_brands_account_or_zendesk_brand(
        tmp_path: Path) -> None:
    text = SHOP2.replace("pk_shop2", "pk_test").replace("shop2-secret", "kl-secret")
    found = problems_of(env_with(tmp_path, text, ZENDESK_BRAND_ID="360002"))
    for what in ("its klaviyo_api_key", "its klaviyo_webhook_secret", "zendesk_brand_id 360002"):
        assert f"BRANDS_FILE brand 'shop2': {what} is already brand the environment " \
               "variables'; brands may not share it" in found
    assert not any("pk_test" in p or "kl-secret" in p for p in found)


def test_the_file_may_not_redefine_the_default_brand(tmp_path: Path) -> None:
    found = problems_of(env_with(tmp_path, SHOP2.replace('"shop2"', '"default"')))
    assert any(p.startswith("BRANDS_FILE brand 'default': name 'default' is the brand the "
                            "environment variables configure") for p in found)


def test_a_secret_set_inline_and_from_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("pk_x")
    found = problems_of(env_with(tmp_path, SHOP2 + 'klaviyo_api_key_file = "key"\n'))
    assert "BRANDS_FILE brand 'shop2': klaviyo_api_key and klaviyo_api_key_file are both " \
           "set; set one" in found


def test_an_unreadable_or_empty_secret_file_is_named_not_shown(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n")
    text = SHOP2.replace('klaviyo_api_key = "pk_shop2"', 'klaviyo_api_key_file = "missing"') \
        .replace('klaviyo_webhook_secret = "shop2-secret"', 'klaviyo_webhook_secret_file = '
                 '"empty"')
    found = problems_of(env_with(tmp_path, text))
    assert any(p.startswith("BRANDS_FILE brand 'shop2': klaviyo_api_key_file 'missing' "
                            "cannot be read") for p in found)
    assert "BRANDS_FILE brand 'shop2': klaviyo_webhook_secret_file 'empty' is empty" in found


def test_a_missing_or_malformed_file_is_one_clear_problem(tmp_path: Path) -> None:
    env = {**SANDBOX, "BRANDS_FILE": str(tmp_path / "nope.toml")}
    assert any(p.startswith(f"BRANDS_FILE={env['BRANDS_FILE']!r} cannot be read")
               for p in problems_of(env))
    env = env_with(tmp_path, 'brand = "x"\n[[brand]]\nname = "pk_secret_value\n')
    (problem,) = problems_of(env)
    assert "is not valid TOML" in problem and "pk_secret_value" not in problem


def test_the_file_holds_brand_tables_only(tmp_path: Path) -> None:
    found = problems_of(env_with(tmp_path, 'brand = "shop2"\nzendesk = 1\n'))
    assert "BRANDS_FILE: unknown top-level keys ['zendesk']; brands are listed as [[brand]] " \
           "tables" in found
    assert "BRANDS_FILE: `brand` must be a list of [[brand]] tables" in found


def test_an_empty_brands_file_leaves_the_default_brand_alone(tmp_path: Path) -> None:
    (brand,) = brands_of(env_with(tmp_path, "# no brands yet\n"))
    assert brand.is_default
