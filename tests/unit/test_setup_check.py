"""Setup check: each problem explained in words naming what to fix; secrets never shown."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import redis

from bridge.config import Settings
from bridge.errors import CredentialsRefused, Permanent, RateLimited, Retryable
from bridge.ops.setup_check import Check, failed_required, redacted_url, run_checks

ENV = {"ALLOW_INSECURE_UPSTREAMS": "true", "ZENDESK_URL": "http://127.0.0.1:5001",
       "KLAVIYO_BASE_URL": "http://127.0.0.1:5002", "ZENDESK_EMAIL": "bridge@acme-shop.test",
       "ZENDESK_API_TOKEN": "zd-token-s3cret", "ZENDESK_WEBHOOK_SECRET": "zd-hook-s3cret",
       "KLAVIYO_API_KEY": "pk_s3cret", "KLAVIYO_WEBHOOK_SECRET": "kl-hook-s3cret",
       "SYNC_SMS_CONVERSATIONS": "true", "REDIS_URL": "redis://:r3dis-pw@10.0.0.5:6379/0"}
SECRETS = ("zd-token-s3cret", "zd-hook-s3cret", "pk_s3cret", "kl-hook-s3cret", "r3dis-pw",
           "oauth-client-s3cret")
OAUTH = {"ZENDESK_EMAIL": "", "ZENDESK_API_TOKEN": "", "ZENDESK_OAUTH_CLIENT_ID": "zkbridge",
         "ZENDESK_OAUTH_CLIENT_SECRET": "oauth-client-s3cret"}
TODAY = date(2026, 12, 4)
ADMIN = {"id": 9003, "role": "admin", "email": "bridge@acme-shop.test"}


class FakeZendesk:
    """Answers users/me with each answer in turn, the last one from then on."""

    def __init__(self, *answers: dict[str, Any] | Exception) -> None:
        self.answers = list(answers) or [ADMIN]

    def me(self) -> dict[str, Any]:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakeKlaviyo:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def account(self) -> dict[str, Any]:
        if self.error:
            raise self.error
        return {"id": "ACME01", "attributes": {"contact_information": {
            "organization_name": "Acme Shop"}}}


class FakeRedis:
    def __init__(self, policy: str = "noeviction", aof: int = 1, down: bool = False) -> None:
        self.policy, self.aof, self.down = policy, aof, down

    def ping(self) -> bool:
        if self.down:
            raise redis.ConnectionError("Connection refused")
        return True

    def info(self, section: str) -> dict[str, Any]:
        return {"maxmemory_policy": self.policy} if section == "memory" else {
            "aof_enabled": self.aof}


class FakeStore:
    """What the Redis check asks of the store: ping and info."""

    def __init__(self, r: FakeRedis) -> None:
        self.r = r

    def ping(self) -> bool:
        return bool(self.r.ping())

    def info(self, section: str) -> dict[str, Any]:
        return dict(self.r.info(section))


def checks(zendesk: FakeZendesk | None = None, klaviyo: FakeKlaviyo | None = None,
           r: FakeRedis | None = None, workers: list[str] | Exception | None = None,
           today: date = TODAY, **env: str) -> dict[str, Check]:
    settings = Settings.from_env({**ENV, **env})

    def seen() -> list[str]:
        if isinstance(workers, Exception):
            raise workers
        return ["celery@w1"] if workers is None else workers

    found = run_checks(settings, FakeStore(r or FakeRedis()), zendesk or FakeZendesk(),
                       klaviyo or FakeKlaviyo(), seen, sleep=lambda s: None, today=today)
    for c in found:
        assert not any(secret in c.detail for secret in SECRETS), c
    return {c.name: c for c in found}


def test_a_healthy_installation_passes_every_check() -> None:
    found = checks(**OAUTH, ALLOW_INSECURE_UPSTREAMS="false", ZENDESK_URL=OFFICIAL_ZENDESK,
                   KLAVIYO_BASE_URL="https://a.klaviyo.com")
    assert all(c.ok for c in found.values()), [c for c in found.values() if not c.ok]
    assert found["Zendesk API user"].detail.endswith("as the OAuth client's user, admin")
    assert found["Zendesk credential"].detail.startswith("an OAuth client (zkbridge)")
    assert found["Klaviyo API key"].detail == "the key is accepted (account: Acme Shop)"
    assert found["Redis"].detail == "answers at redis://:***@10.0.0.5:6379/0"


OFFICIAL_ZENDESK = "https://acme.zendesk.com"


def test_insecure_upstreams_are_a_warning_of_check() -> None:
    loose = checks()["Upstream endpoints"]
    assert not loose.ok and not loose.required
    assert "ALLOW_INSECURE_UPSTREAMS is on" in loose.detail
    strict = checks(ALLOW_INSECURE_UPSTREAMS="false", ZENDESK_URL=OFFICIAL_ZENDESK,
                    KLAVIYO_BASE_URL="https://a.klaviyo.com")["Upstream endpoints"]
    assert strict.ok


def test_redis_passwords_in_the_query_or_userinfo_are_never_shown() -> None:
    for url in ("redis://10.0.0.5:6379/0?password=s3cr3t-pw", "redis://:s3cr3t-pw@10.0.0.5/0",
                "rediss://u:s3cr3t-pw@h:1/2?password=s3cr3t-pw", "redis://u:s3cr3t-pw@h:x/0"):
        assert "s3cr3t-pw" not in redacted_url(url), url
    down = checks(r=FakeRedis(down=True), REDIS_URL="redis://h:6379/0?password=s3cr3t-pw")
    assert "s3cr3t-pw" not in down["Redis"].detail and "password=***" in down["Redis"].detail


def test_a_rejected_zendesk_token_names_the_user_and_the_variables_to_check() -> None:
    found = checks(FakeZendesk(Permanent("zendesk", "GET users/me answered 401", 401)))
    zendesk = found["Zendesk API user"]
    assert not zendesk.ok and zendesk.required
    assert zendesk.detail == ("Zendesk rejected the API token for bridge@…: check ZENDESK_EMAIL "
                              "and ZENDESK_API_TOKEN")
    assert failed_required(list(found.values())) == [zendesk]


def test_a_rejected_oauth_token_names_its_variable() -> None:
    found = checks(FakeZendesk(Permanent("zendesk", "401", 401)), ZENDESK_OAUTH_TOKEN="oauth-x")
    assert "check ZENDESK_OAUTH_TOKEN" in found["Zendesk API user"].detail


def test_an_anonymous_answer_from_users_me_is_not_a_pass() -> None:
    detail = checks(FakeZendesk({"id": None, "role": "end-user"}))["Zendesk API user"]
    assert not detail.ok and "anonymous" in detail.detail and "ZENDESK_API_TOKEN" in detail.detail


def test_an_end_user_cannot_run_the_bridge_and_an_agent_can() -> None:
    end_user = checks(FakeZendesk({"id": 5, "role": "end-user"}))["Zendesk API user"]
    assert not end_user.ok and "needs an agent or admin" in end_user.detail
    agent = checks(FakeZendesk({"id": 5, "role": "agent"}))["Zendesk API user"]
    assert agent.ok and "needs an admin" in agent.detail


def test_an_unreachable_zendesk_says_where_it_looked() -> None:
    found = checks(FakeZendesk(Retryable("zendesk", "GET users/me failed: ConnectionError")))
    assert "could not get an answer from Zendesk at http://127.0.0.1:5001" in found[
        "Zendesk API user"].detail


def test_a_throttled_check_is_asked_once_more() -> None:
    zendesk = FakeZendesk(RateLimited("zendesk", 1.0), ADMIN)
    assert checks(zendesk)["Zendesk API user"].ok


def test_a_rejected_klaviyo_key_is_explained_without_the_key() -> None:
    found = checks(klaviyo=FakeKlaviyo(Permanent("klaviyo", "GET accounts answered 401", 401)))
    assert not found["Klaviyo API key"].ok
    assert "Klaviyo rejected the key in KLAVIYO_API_KEY" in found["Klaviyo API key"].detail


def test_redis_that_may_evict_or_forget_is_a_warning_in_words() -> None:
    found = checks(r=FakeRedis(policy="allkeys-lru", aof=0))
    eviction, persistence = found["Redis eviction"], found["Redis persistence"]
    assert not eviction.ok and not eviction.required
    assert "allkeys-lru" in eviction.detail and "noeviction" in eviction.detail
    assert not persistence.ok and "appendonly yes" in persistence.detail
    assert failed_required(list(found.values())) == []


def test_unreachable_redis_fails_and_hides_its_password() -> None:
    found = checks(r=FakeRedis(down=True))
    assert not found["Redis"].ok and "Redis eviction" not in found
    assert "redis://:***@10.0.0.5:6379/0" in found["Redis"].detail


@pytest.mark.parametrize("workers, words", [([], "no worker answered"),
                                            (OSError("broker down"), "could not ask")])
def test_no_workers_is_a_failure(workers: list[str] | Exception, words: str) -> None:
    found = checks(workers=workers)
    assert not found["Workers"].ok and words in found["Workers"].detail


def test_sms_sync_off_is_a_warning() -> None:
    sync = checks(SYNC_SMS_CONVERSATIONS="false")["SMS sync"]
    assert not sync.ok and not sync.required and "SYNC_SMS_CONVERSATIONS=true" in sync.detail


def test_redacted_url_keeps_urls_without_passwords() -> None:
    assert redacted_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert redacted_url("rediss://u:p@h:1/2") == "rediss://u:***@h:1/2"


def test_an_api_token_works_but_warns_that_it_stops_on_2027_04_30() -> None:
    found = checks()
    assert found["Zendesk API user"].ok
    assert found["Zendesk API user"].detail.endswith("as bridge@…, admin")
    warning = found["Zendesk credential"]
    assert not warning.ok and not warning.required
    assert "2027-04-30 (in 147 days)" in warning.detail and "OAuth client" in warning.detail
    assert "README" in warning.detail
    assert failed_required(list(found.values())) == []


def test_a_refused_oauth_client_fails_the_check_naming_zendesk_oauth() -> None:
    refused = CredentialsRefused("zendesk", "Zendesk OAuth refused the client credentials "
                                            "(invalid_client): check ZENDESK_OAUTH_CLIENT_ID")
    found = checks(FakeZendesk(refused), **OAUTH)
    assert failed_required(list(found.values())) == [found["Zendesk API user"]]
    assert "Zendesk OAuth" in found["Zendesk API user"].detail
    assert "invalid_client" in found["Zendesk API user"].detail


@pytest.mark.parametrize(("today", "ok", "words"), [
    (date(2027, 4, 15), True, "stable until 2027-07-15"),
    (date(2027, 4, 16), False, "leaves 'stable' in 90 days"),
    (date(2027, 8, 1), False, "is no longer 'stable'"),
])
def test_the_pinned_klaviyo_revision_warns_90_days_before_it_leaves_stable(
        today: date, ok: bool, words: str) -> None:
    found = checks(today=today, **OAUTH)
    check = found["Klaviyo revision"]
    assert (check.ok, check.required) == (ok, False)
    assert words in check.detail
