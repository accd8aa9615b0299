"""Settings.from_env: every problem reported at once, each naming the variable to set."""

from __future__ import annotations

import pytest

from bridge.config import Settings
from bridge.errors import ConfigError

SANDBOX = {
    "ALLOW_INSECURE_UPSTREAMS": "true",
    "ZENDESK_URL": "http://127.0.0.1:5001",
    "KLAVIYO_BASE_URL": "http://127.0.0.1:5002/",
    "ZENDESK_EMAIL": "agent@example.com",
    "ZENDESK_API_TOKEN": "zd-token",
    "ZENDESK_WEBHOOK_SECRET": "zd-secret",
    "KLAVIYO_API_KEY": "pk_test",
    "KLAVIYO_WEBHOOK_SECRET": "kl-secret",
}
PRODUCTION = {
    "ZENDESK_URL": "https://acme.zendesk.com",
    "ZENDESK_OAUTH_TOKEN": "oauth-token",
    "ZENDESK_WEBHOOK_SECRET": "zd-secret",
    "KLAVIYO_API_KEY": "pk_live",
    "KLAVIYO_WEBHOOK_SECRET": "kl-secret",
}


def settings(base: dict[str, str] = SANDBOX, **changes: str | None) -> Settings:
    env = dict(base)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return Settings.from_env(env)


def problems(base: dict[str, str] = SANDBOX, **changes: str | None) -> list[str]:
    with pytest.raises(ConfigError) as err:
        settings(base, **changes)
    return err.value.problems


def test_a_minimal_sandbox_environment_is_valid_with_safe_defaults() -> None:
    s = settings()
    assert s.zendesk_url == "http://127.0.0.1:5001"
    assert s.klaviyo_base_url == "http://127.0.0.1:5002"
    assert s.allow_insecure_upstreams is True
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.klaviyo_revision == "2026-07-15"
    assert s.sync_sms_conversations is False
    assert s.sms_opt_out_match == "contains"
    assert s.sms_keywords == frozenset()
    assert s.sms_ticket_tags == ()
    assert s.sms_subject_template == "SMS from {masked_phone}"
    assert (s.zendesk_group_id, s.zendesk_brand_id, s.port) == (None, None, 8000)


def test_the_official_https_endpoints_are_accepted_without_the_insecure_switch() -> None:
    s = settings(PRODUCTION)
    assert s.zendesk_url == "https://acme.zendesk.com"
    assert s.klaviyo_base_url == "https://a.klaviyo.com"
    assert s.allow_insecure_upstreams is False


def test_an_oauth_token_replaces_email_and_api_token() -> None:
    s = settings(ZENDESK_EMAIL=None, ZENDESK_API_TOKEN=None, ZENDESK_OAUTH_TOKEN="oauth")
    assert (s.zendesk_oauth_token, s.zendesk_email, s.zendesk_api_token) == ("oauth", None, None)


def test_every_missing_required_variable_is_reported_in_one_error() -> None:
    found = "\n".join(problems({}))
    for name in ("ZENDESK_URL", "ZENDESK_OAUTH_TOKEN", "ZENDESK_API_TOKEN",
                 "ZENDESK_WEBHOOK_SECRET", "KLAVIYO_API_KEY", "KLAVIYO_WEBHOOK_SECRET"):
        assert name in found


def test_the_error_message_lists_each_problem_on_its_own_line() -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({})
    assert len(err.value.problems) == 5
    for p in err.value.problems:
        assert f"\n  - {p}" in str(err.value)


def test_blank_values_count_as_missing() -> None:
    assert "KLAVIYO_API_KEY is not set" in problems(KLAVIYO_API_KEY="   ")


def test_an_email_without_an_api_token_is_not_enough() -> None:
    assert any("ZENDESK_API_TOKEN" in p for p in problems(ZENDESK_API_TOKEN=None))


@pytest.mark.parametrize("name", ["ZENDESK_URL", "KLAVIYO_BASE_URL"])
def test_an_http_url_is_refused_unless_insecure_upstreams_are_allowed(name: str) -> None:
    found = problems(ALLOW_INSECURE_UPSTREAMS=None)
    mine = [p for p in found if p.startswith(f"{name}=")]
    assert len(mine) == 1
    assert "ALLOW_INSECURE_UPSTREAMS" in mine[0]


@pytest.mark.parametrize("url", ["https://evil.example.com", "https://acme.zendesk.com.evil.io",
                                 "http://acme.zendesk.com"])
def test_a_zendesk_url_that_is_not_an_official_https_endpoint_is_refused(url: str) -> None:
    assert any(p.startswith("ZENDESK_URL=") and "ALLOW_INSECURE_UPSTREAMS" in p
               for p in problems(PRODUCTION, ZENDESK_URL=url))


def test_a_url_that_is_not_http_is_refused_even_in_the_sandbox() -> None:
    assert any("ZENDESK_URL must be an http(s) URL" in p
               for p in problems(ZENDESK_URL="acme.zendesk.com"))


@pytest.mark.parametrize(("raw", "expected"), [("contains", "contains"), ("exact", "exact"),
                                               ("EXACT", "exact"), ("", "contains")])
def test_the_opt_out_match_mode_is_read_case_insensitively(raw: str, expected: str) -> None:
    assert settings(SMS_OPT_OUT_MATCH=raw).sms_opt_out_match == expected


def test_an_unknown_opt_out_match_mode_is_refused() -> None:
    found = problems(SMS_OPT_OUT_MATCH="word")
    assert any("SMS_OPT_OUT_MATCH" in p and "'word'" in p for p in found)


def test_brand_keywords_are_upper_cased_and_trimmed() -> None:
    assert settings(SMS_KEYWORDS=" vip, Sale ,,SUMMER24").sms_keywords == frozenset(
        {"VIP", "SALE", "SUMMER24"})


@pytest.mark.parametrize("entry", ["VI", "VIP!", "TWO WORDS", "A" * 21])
def test_a_brand_keyword_klaviyo_would_not_accept_is_refused(entry: str) -> None:
    found = problems(SMS_KEYWORDS=f"VIP,{entry}")
    assert len(found) == 1
    assert "SMS_KEYWORDS" in found[0] and "3-20 letters or digits" in found[0]


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("TRUE", True), ("1", True),
                                               ("yes", True), ("on", True), ("false", False),
                                               ("0", False), ("no", False), ("off", False),
                                               ("", False)])
def test_booleans_accept_the_usual_spellings(raw: str, expected: bool) -> None:
    assert settings(SYNC_SMS_CONVERSATIONS=raw).sync_sms_conversations is expected


def test_a_boolean_that_is_neither_true_nor_false_is_refused() -> None:
    assert "SYNC_SMS_CONVERSATIONS must be true or false, got 'maybe'" in problems(
        SYNC_SMS_CONVERSATIONS="maybe")


def test_sms_sync_can_be_switched_on_when_credentials_are_set() -> None:
    assert settings(SYNC_SMS_CONVERSATIONS="true").sync_sms_conversations is True


def test_sms_sync_without_credentials_is_a_configuration_error() -> None:
    found = "\n".join(problems({"SYNC_SMS_CONVERSATIONS": "true"}))
    assert "ZENDESK_URL" in found and "KLAVIYO_API_KEY" in found


def test_ticket_tags_group_and_brand_are_read() -> None:
    s = settings(SMS_TICKET_TAGS="sms-inbox, vip ,", ZENDESK_GROUP_ID="8447",
                 ZENDESK_BRAND_ID="8446")
    assert (s.sms_ticket_tags, s.zendesk_group_id, s.zendesk_brand_id) == (
        ("sms-inbox", "vip"), 8447, 8446)


def test_a_group_id_that_is_not_a_number_is_refused() -> None:
    assert "ZENDESK_GROUP_ID must be a whole number, got 'support'" in problems(
        ZENDESK_GROUP_ID="support")


def test_a_subject_template_may_only_use_known_placeholders() -> None:
    assert settings(SMS_SUBJECT_TEMPLATE="Text to {brand_number} from {masked_phone}")
    assert settings(SMS_SUBJECT_TEMPLATE="{name}: {first_words}")
    assert any("SMS_SUBJECT_TEMPLATE" in p for p in problems(SMS_SUBJECT_TEMPLATE="From {phone}"))


def test_a_bad_revision_and_redis_url_are_reported_together() -> None:
    found = problems(KLAVIYO_REVISION="latest", REDIS_URL="localhost:6379")
    assert any("KLAVIYO_REVISION" in p for p in found)
    assert any("REDIS_URL" in p for p in found)


def test_minimum_values_are_enforced() -> None:
    found = problems(MAX_ATTEMPTS="0", CELERY_VISIBILITY_TIMEOUT="5", INBOUND_SETTLE_MS="-1")
    assert len(found) == 3


def test_a_settle_time_of_zero_is_kept() -> None:
    assert settings(INBOUND_SETTLE_MS="0").inbound_settle_ms == 0
    assert settings(REPLY_SETTLE_MS="0").reply_settle_ms == 0
    assert settings().reply_settle_ms == 1000
    assert len(problems(REPLY_SETTLE_MS="-5")) == 1


def test_public_url_is_optional_and_must_be_https_outside_the_sandbox() -> None:
    assert settings(PRODUCTION).public_url is None
    assert settings(PRODUCTION, PUBLIC_URL="https://bridge.acme.com/").public_url == \
        "https://bridge.acme.com"
    [problem] = problems(PRODUCTION, PUBLIC_URL="http://bridge.acme.com")
    assert problem.startswith("PUBLIC_URL='http://bridge.acme.com' must start with https://")
    assert settings(SANDBOX, PUBLIC_URL="http://127.0.0.1:8000").public_url == \
        "http://127.0.0.1:8000"
