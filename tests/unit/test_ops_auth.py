"""Who may use /ops (and /metrics when asked): OPS_TOKEN as Bearer or basic auth user `ops`;
forms carry a CSRF token only an OPS_TOKEN holder can mint (webapp/auth.py). And the log guard
for lines other libraries write (bridge/adapters/logs.py)."""

from __future__ import annotations

import base64
import logging
import sys

import pytest

from bridge.adapters.logs import ScrubFilter, secret_values
from tests.unit.test_settings import SANDBOX, problems, settings
from webapp.auth import credentials_ok, csrf_ok, csrf_token

TOKEN = "0psToken-for-unit-tests-9f3a"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}", f"bearer  {TOKEN} ", basic("ops", TOKEN)])
def test_the_token_is_accepted_as_bearer_or_as_basic_auth_for_user_ops(header: str) -> None:
    assert credentials_ok(header, TOKEN)


@pytest.mark.parametrize("header", [
    None, "", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Token {TOKEN}", TOKEN,
    basic("admin", TOKEN), basic("ops", "wrong"), basic("ops", ""), "Basic !!!not-base64!!!",
    "Basic " + base64.b64encode(TOKEN.encode()).decode(),      # no user:password pair
    "Basic " + base64.b64encode(b"ops:\xff\xfe").decode(),     # not UTF-8
])
def test_anything_else_is_refused(header: str | None) -> None:
    assert not credentials_ok(header, TOKEN)


def test_an_unset_token_accepts_nobody() -> None:
    assert not credentials_ok("Bearer ", "")
    assert not credentials_ok(basic("ops", ""), "")


def test_a_csrf_token_is_valid_for_its_secret_for_a_few_hours() -> None:
    minted = csrf_token(TOKEN, now=1_000_000)
    assert csrf_ok(TOKEN, minted, now=1_000_000 + 3600)
    assert not csrf_ok(TOKEN, minted, now=1_000_000 + 9 * 3600)      # too old
    assert not csrf_ok("another-ops-token-after-rotation", minted, now=1_000_000)


@pytest.mark.parametrize("forged", [None, "", "1000000", "1000000.", "x.y",
                                    "1000001." + "0" * 64])
def test_a_missing_or_forged_csrf_token_is_refused(forged: str | None) -> None:
    assert not csrf_ok(TOKEN, forged, now=1_000_000)


def test_a_csrf_token_with_a_changed_time_is_refused() -> None:
    _, mac = csrf_token(TOKEN, now=1_000_000).split(".")
    assert not csrf_ok(TOKEN, f"1000500.{mac}", now=1_000_600)


def record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("celery.app.trace", logging.INFO, __file__, 1, msg, args, None)


def test_the_log_guard_masks_phones_and_emails_and_blanks_secrets() -> None:
    guard = ScrubFilter(["pk_live_secret_key"])
    rec = record("Task %s raised: Permanent('klaviyo: 400: %s has key %s')", "bridge.x",
                 "alice@example.com +15005550101", "pk_live_secret_key")
    assert guard.filter(rec)
    text = rec.getMessage()
    assert "alice@example.com" not in text and "+15005550101" not in text
    assert "pk_live_secret_key" not in text and "[secret]" in text
    assert "a•••@example.com" in text and "0101" in text


def test_the_log_guard_scrubs_tracebacks_too() -> None:
    guard = ScrubFilter(["s3cr3t-token"])
    try:
        raise ValueError("customer +15005550101 with s3cr3t-token")
    except ValueError:
        rec = logging.LogRecord("gunicorn.error", logging.ERROR, __file__, 1, "boom", (),
                                sys.exc_info())
    guard.filter(rec)
    formatted = logging.Formatter().format(rec)
    assert "ValueError" in formatted
    assert "+15005550101" not in formatted and "s3cr3t-token" not in formatted


def test_secret_values_come_from_the_environment_including_flower_and_redis_passwords() -> None:
    env = {"ZENDESK_API_TOKEN": "zendesk-token-1", "KLAVIYO_API_KEY": "pk_abcdef",
           "FLOWER_BASIC_AUTH": "ops:flower-pass", "OPS_TOKEN": "ops-token-123456",
           "REDIS_URL": "redis://:redis-pass@host:6379/0", "ZENDESK_EMAIL": "bridge@x.test",
           "KLAVIYO_WEBHOOK_SECRET": "short"}
    assert set(secret_values(env)) == {"zendesk-token-1", "pk_abcdef", "flower-pass",
                                       "ops-token-123456", "redis-pass"}


def test_ops_token_and_metrics_auth_settings() -> None:
    assert settings().ops_token is None and not settings().metrics_require_auth
    assert settings(OPS_TOKEN=TOKEN, METRICS_REQUIRE_AUTH="true").metrics_require_auth
    [short] = problems(OPS_TOKEN="short-token")
    assert "OPS_TOKEN must be at least 16 characters" in short
    [lonely] = problems(SANDBOX, METRICS_REQUIRE_AUTH="true")
    assert "METRICS_REQUIRE_AUTH=true needs OPS_TOKEN" in lonely
