"""Which upstream URLs and secrets the settings accept (issue 13): the host checked is the host
`requests` connects to, no credentials ride in URLs, placeholders never reach production, and
no secret shows in a repr."""

from __future__ import annotations

import pytest
import requests

from bridge.config import Settings
from bridge.errors import ConfigError

STRICT = {"ZENDESK_URL": "https://acme.zendesk.com", "ZENDESK_EMAIL": "bridge@acme.test",
          "ZENDESK_API_TOKEN": "zd-token-8f2e1c9a77", "ZENDESK_WEBHOOK_SECRET": "zd-whsec-51ab93",
          "KLAVIYO_API_KEY": "pk_live_6c1d0e2f", "KLAVIYO_WEBHOOK_SECRET": "kl-whsec-77c2d1"}


def problems(**overrides: str) -> list[str]:
    try:
        Settings.from_env({**STRICT, **overrides})
    except ConfigError as e:
        return e.problems
    return []


def test_strict_settings_with_official_hosts_pass() -> None:
    assert problems() == []
    assert problems(ZENDESK_URL="https://acme.zendesk.com/",
                    KLAVIYO_BASE_URL="https://a.klaviyo.com") == []


BYPASSES = ["https://evil.example\\@acme.zendesk.com", "https://evil.example\\.zendesk.com",
            "https://user:pass@acme.zendesk.com", "https://evil.example@acme.zendesk.com",
            "https://acme.zendesk.com?x=@evil.example", "https://acme.zendesk.com#@evil.example",
            "https://acme.zendesk.com.evil.example", "https://acme.zendesk.com:8443",
            "https://acme.zendesk.com/api/../../x", "http://acme.zendesk.com",
            "https://zendesk.com", "https:// acme.zendesk.com", "https://acme.zendesk.com/\x00"]


@pytest.mark.parametrize("url", BYPASSES)
def test_zendesk_urls_that_would_reach_another_host_or_leak_credentials_are_refused(
        url: str) -> None:
    found = problems(ZENDESK_URL=url)
    assert found and all("user:pass@acme" not in p for p in found), found
    assert any(p.startswith("ZENDESK_URL") for p in found), found


@pytest.mark.parametrize("url", ["https://evil.example\\@a.klaviyo.com", "https://u:p@a.klaviyo.com",
                                 "https://a.klaviyo.com?x=1", "https://a.klaviyo.com.evil.example",
                                 "http://a.klaviyo.com"])
def test_klaviyo_urls_other_than_the_official_one_are_refused(url: str) -> None:
    assert any(p.startswith("KLAVIYO_BASE_URL") for p in problems(KLAVIYO_BASE_URL=url))


def test_requests_really_goes_elsewhere_with_the_backslash_form() -> None:
    """Why the parser matters: urllib.parse sees acme.zendesk.com, requests connects to evil."""
    prepared = requests.Request("GET", "https://evil.example\\@acme.zendesk.com/api").prepare()
    assert prepared.url.startswith("https://evil.example/")


def test_insecure_mode_still_refuses_userinfo_backslash_query_and_fragment() -> None:
    loose = {"ALLOW_INSECURE_UPSTREAMS": "true"}
    assert problems(**loose, ZENDESK_URL="http://127.0.0.1:8025") == []
    for url in ("http://u:p@127.0.0.1:8025", "http://evil\\@127.0.0.1", "http://x:1/?a=b",
                "http://x:1/#f"):
        assert problems(**loose, ZENDESK_URL=url), url
    assert problems(PUBLIC_URL="https://u:p@bridge.example.com")


@pytest.mark.parametrize("var,value", [("OPS_TOKEN", "change-me-to-a-long-random-token"),
                                       ("ZENDESK_WEBHOOK_SECRET", "changeme"),
                                       ("KLAVIYO_API_KEY", "<your private key>"),
                                       ("KLAVIYO_WEBHOOK_SECRET", "sandbox-klaviyo-webhook-secret"),
                                       ("KLAVIYO_API_KEY", "pk_sandbox_key")])
def test_placeholder_and_sandbox_values_are_refused_at_start_up(var: str, value: str) -> None:
    found = problems(**{var: value})
    assert any(p.startswith(var) and ("placeholder" in p or "sandbox" in p) for p in found)
    assert all(value not in p for p in found)


def test_sandbox_values_are_accepted_with_insecure_upstreams_placeholders_never() -> None:
    loose = {"ALLOW_INSECURE_UPSTREAMS": "true", "ZENDESK_URL": "http://127.0.0.1:8025"}
    assert problems(**loose, KLAVIYO_API_KEY="pk_sandbox_key") == []
    assert problems(**loose, OPS_TOKEN="change-me-to-a-long-random-token")


def test_no_secret_shows_in_the_settings_repr() -> None:
    settings = Settings.from_env({**STRICT, "OPS_TOKEN": "ops-token-0123456789",
                                  "REDIS_URL": "redis://:redis-pw-42@redis:6379/0"})
    shown = repr(settings)
    for secret in ("zd-token-8f2e1c9a77", "zd-whsec-51ab93", "pk_live_6c1d0e2f",
                   "kl-whsec-77c2d1", "ops-token-0123456789", "redis-pw-42"):
        assert secret not in shown
    assert "acme.zendesk.com" in shown
