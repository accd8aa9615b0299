"""Settings from environment variables, validated once at start-up.

Every process (receiver, worker, beat, CLI) builds one `Settings` with `Settings.from_env()`.
All problems are collected and reported together, each with the variable to set, so a support
engineer fixes the whole configuration in one go instead of one crash at a time.
The README's configuration table lists the same variables; keep them in step.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

from bridge.errors import ConfigError

ZENDESK_HOST_SUFFIX = ".zendesk.com"
KLAVIYO_HOST = "a.klaviyo.com"
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}
MIN_OPS_TOKEN = 16


@dataclass(frozen=True)
class Settings:
    redis_url: str
    zendesk_url: str
    zendesk_email: str | None
    zendesk_api_token: str | None
    zendesk_oauth_token: str | None
    zendesk_webhook_secret: str
    klaviyo_api_key: str
    klaviyo_base_url: str
    klaviyo_revision: str
    klaviyo_webhook_secret: str
    sync_sms_conversations: bool
    sms_keywords: frozenset[str]
    sms_opt_out_match: str
    sms_ticket_tags: tuple[str, ...]
    sms_subject_template: str
    zendesk_group_id: int | None
    zendesk_brand_id: int | None
    allow_insecure_upstreams: bool
    port: int
    sms_reply_mode: str = "conversations"
    klaviyo_messages_per_minute: int = 60
    klaviyo_events_per_minute: int = 3500
    reconcile_interval_seconds: int = 300
    zendesk_exports_per_minute: int = 10
    zendesk_requests_per_minute: int = 200
    zendesk_updates_per_minute: int = 100
    klaviyo_profiles_per_minute: int = 750
    max_webhook_bytes: int = 5 * 1024 * 1024
    webhook_tolerance_seconds: int = 300
    inbound_settle_ms: int = 300
    reply_settle_ms: int = 1000
    event_ttl_seconds: int = 14 * 24 * 3600
    max_attempts: int = 8
    visibility_timeout: int = 600
    http_timeout_seconds: float = 10.0
    public_url: str | None = None   # where Zendesk reaches this bridge; only `provision` needs it
    ops_token: str | None = None       # the /ops page's password (user `ops`); unset: page off
    metrics_require_auth: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate; raise `ConfigError` listing every problem."""
        env = os.environ if env is None else env
        p = _Parser(env)
        zendesk_url = p.url("ZENDESK_URL", required=True)
        klaviyo_base = p.url("KLAVIYO_BASE_URL", default=f"https://{KLAVIYO_HOST}")
        insecure = p.boolean("ALLOW_INSECURE_UPSTREAMS", False)
        if not insecure:
            p.secure_host("ZENDESK_URL", zendesk_url, lambda h: h.endswith(ZENDESK_HOST_SUFFIX))
            p.secure_host("KLAVIYO_BASE_URL", klaviyo_base, lambda h: h == KLAVIYO_HOST)
        public_url = p.url("PUBLIC_URL")
        if public_url and not insecure and urlparse(public_url).scheme != "https":
            p.problem(f"PUBLIC_URL={public_url!r} must start with https:// (Zendesk delivers "
                      "webhooks to https endpoints only); ALLOW_INSECURE_UPSTREAMS=true allows "
                      "http for the sandbox or tests")
        email = p.text("ZENDESK_EMAIL")
        token = p.text("ZENDESK_API_TOKEN")
        oauth = p.text("ZENDESK_OAUTH_TOKEN")
        if not oauth and not (email and token):
            p.problem("set ZENDESK_OAUTH_TOKEN, or both ZENDESK_EMAIL and ZENDESK_API_TOKEN "
                      "(an agent or admin's API token from Admin Center > Apps and integrations"
                      " > Zendesk API)")
        revision = p.text("KLAVIYO_REVISION") or "2026-07-15"
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.pre)?", revision):
            p.problem(f"KLAVIYO_REVISION must look like 2026-07-15, got {revision!r}")
        match = (p.text("SMS_OPT_OUT_MATCH") or "contains").lower()
        if match not in ("contains", "exact"):
            p.problem(f"SMS_OPT_OUT_MATCH must be 'contains' or 'exact', got {match!r}")
        keywords = frozenset(k.strip().upper() for k in (p.text("SMS_KEYWORDS") or "").split(",")
                             if k.strip())
        for k in keywords:
            if not re.fullmatch(r"[A-Z0-9]{3,20}", k):
                p.problem(f"SMS_KEYWORDS entry {k!r} must be 3-20 letters or digits "
                          "(Klaviyo's rule for custom keywords)")
        reply_mode = (p.text("SMS_REPLY_MODE") or "conversations").lower()
        if reply_mode not in ("conversations", "flow_event"):
            p.problem(f"SMS_REPLY_MODE must be 'conversations' or 'flow_event', got "
                      f"{reply_mode!r}")
        tags = tuple(t.strip() for t in (p.text("SMS_TICKET_TAGS") or "").split(",") if t.strip())
        subject = p.text("SMS_SUBJECT_TEMPLATE") or "SMS from {masked_phone}"
        if "{" in subject and not set(re.findall(r"{(\w*)}", subject)) <= {"masked_phone",
                                                                           "brand_number"}:
            p.problem("SMS_SUBJECT_TEMPLATE may only use {masked_phone} and {brand_number}")
        ops_token = p.text("OPS_TOKEN")
        if ops_token and len(ops_token) < MIN_OPS_TOKEN:
            p.problem(f"OPS_TOKEN must be at least {MIN_OPS_TOKEN} characters (it guards replay "
                      "and purge); make one with: python -c 'import secrets; "
                      "print(secrets.token_urlsafe(24))'")
        metrics_auth = p.boolean("METRICS_REQUIRE_AUTH", False)
        if metrics_auth and not ops_token:
            p.problem("METRICS_REQUIRE_AUTH=true needs OPS_TOKEN (the scraper's bearer token)")
        settings = cls(
            redis_url=p.text("REDIS_URL") or "redis://127.0.0.1:6379/0",
            zendesk_url=zendesk_url.rstrip("/"),
            zendesk_email=email,
            zendesk_api_token=token,
            zendesk_oauth_token=oauth,
            zendesk_webhook_secret=p.text("ZENDESK_WEBHOOK_SECRET", required=True) or "",
            klaviyo_api_key=p.text("KLAVIYO_API_KEY", required=True) or "",
            klaviyo_base_url=klaviyo_base.rstrip("/"),
            klaviyo_revision=revision,
            klaviyo_webhook_secret=p.text("KLAVIYO_WEBHOOK_SECRET", required=True) or "",
            sync_sms_conversations=p.boolean("SYNC_SMS_CONVERSATIONS", False),
            sms_keywords=keywords,
            sms_opt_out_match=match,
            sms_ticket_tags=tags,
            sms_subject_template=subject,
            zendesk_group_id=p.integer("ZENDESK_GROUP_ID"),
            zendesk_brand_id=p.integer("ZENDESK_BRAND_ID"),
            allow_insecure_upstreams=insecure,
            port=p.integer("PORT") or 8000,
            max_webhook_bytes=p.integer("MAX_WEBHOOK_BYTES") or 5 * 1024 * 1024,
            inbound_settle_ms=_default(p.integer("INBOUND_SETTLE_MS", minimum=0), 300),
            reply_settle_ms=_default(p.integer("REPLY_SETTLE_MS", minimum=0), 1000),
            max_attempts=p.integer("MAX_ATTEMPTS", minimum=1) or 8,
            sms_reply_mode=reply_mode,
            http_timeout_seconds=float(p.integer("HTTP_TIMEOUT_SECONDS", minimum=1) or 10),
            klaviyo_events_per_minute=p.integer("KLAVIYO_EVENTS_PER_MINUTE", minimum=2) or 3500,
            reconcile_interval_seconds=p.integer("RECONCILE_INTERVAL_SECONDS", minimum=10)
            or 300,
            zendesk_exports_per_minute=p.integer("ZENDESK_EXPORTS_PER_MINUTE", minimum=2) or 10,
            zendesk_requests_per_minute=p.integer("ZENDESK_REQUESTS_PER_MINUTE", minimum=2)
            or 200,
            zendesk_updates_per_minute=p.integer("ZENDESK_UPDATES_PER_MINUTE", minimum=2) or 100,
            klaviyo_profiles_per_minute=p.integer("KLAVIYO_PROFILES_PER_MINUTE", minimum=2)
            or 750,
            klaviyo_messages_per_minute=p.integer("KLAVIYO_MESSAGES_PER_MINUTE", minimum=2)
            or 60,
            visibility_timeout=p.integer("CELERY_VISIBILITY_TIMEOUT", minimum=30) or 600,
            ops_token=ops_token,
            metrics_require_auth=metrics_auth,
            public_url=public_url.rstrip("/") or None,
        )
        if not (settings.redis_url.startswith(("redis://", "rediss://", "unix://"))):
            p.problem("REDIS_URL must start with redis://, rediss:// or unix://")
        p.raise_if_any()
        return settings


def _default(value: int | None, default: int) -> int:
    return default if value is None else value


class _Parser:
    """Collects problems instead of failing on the first one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)

    def text(self, name: str, required: bool = False) -> str | None:
        value = (self.env.get(name) or "").strip()
        if not value:
            if required:
                self.problem(f"{name} is not set")
            return None
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.env.get(name)
        if raw is None:
            return default
        if raw.strip().lower() in TRUE:
            return True
        if raw.strip().lower() in FALSE:
            return False
        self.problem(f"{name} must be true or false, got {raw!r}")
        return default

    def integer(self, name: str, minimum: int | None = None) -> int | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            self.problem(f"{name} must be a whole number, got {raw!r}")
            return None
        if minimum is not None and value < minimum:
            self.problem(f"{name} must be at least {minimum}, got {value}")
        return value

    def url(self, name: str, required: bool = False, default: str | None = None) -> str:
        value = self.text(name, required=required) or default or ""
        if value and urlparse(value).scheme not in ("http", "https"):
            self.problem(f"{name} must be an http(s) URL such as https://yourshop.zendesk.com,"
                         f" got {value!r}")
        return value

    def secure_host(self, name: str, value: str, host_ok) -> None:  # noqa: ANN001
        if not value:
            return
        parsed = urlparse(value)
        if parsed.scheme != "https" or not host_ok(parsed.hostname or ""):
            self.problem(f"{name}={value!r} is not an official https endpoint; set "
                         "ALLOW_INSECURE_UPSTREAMS=true only for the sandbox or tests")
