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
from dataclasses import MISSING, dataclass, field, fields
from urllib.parse import urlparse

from bridge.config_groups import ops, redis_ha, sms_threading, whatsapp
from bridge.env_reader import EnvReader
from bridge.upstreams import klaviyo_host, placeholder_problems, zendesk_host

ZENDESK_HOST_SUFFIX = ".zendesk.com"
KLAVIYO_HOST = "a.klaviyo.com"
# Shapes a value must have, shared with the brands file (bridge/brands_file.py, E7).
REVISION = re.compile(r"\d{4}-\d{2}-\d{2}(\.pre)?")
KEYWORD = re.compile(r"[A-Z0-9]{3,20}")         # Klaviyo's rule for custom keywords
SUBJECT_FIELDS = frozenset({"masked_phone", "brand_number", "name", "first_words"})
REPLY_MODES = ("conversations", "flow_event")


@dataclass(frozen=True)
class Settings:
    """Every setting, with its default written once: here (from_env falls back to these)."""

    zendesk_url: str
    zendesk_webhook_secret: str = field(repr=False)
    klaviyo_api_key: str = field(repr=False)
    klaviyo_webhook_secret: str = field(repr=False)
    zendesk_email: str | None = None
    zendesk_api_token: str | None = field(default=None, repr=False)
    zendesk_oauth_token: str | None = field(default=None, repr=False)
    zendesk_oauth_client_id: str | None = None
    zendesk_oauth_client_secret: str | None = field(default=None, repr=False)
    zendesk_oauth_scope: str = "read write"
    redis_url: str = field(default="redis://127.0.0.1:6379/0", repr=False)   # may hold a password
    redis_sentinels: tuple[str, ...] = ()     # host:port of each Sentinel; empty: no Sentinel
    redis_master_name: str | None = None
    redis_sentinel_password: str | None = field(default=None, repr=False)
    redis_wait_replicas: int = 0              # receiver: replicas that must hold a write (WAIT)
    redis_wait_ms: int = 500
    klaviyo_base_url: str = f"https://{KLAVIYO_HOST}"
    klaviyo_revision: str = "2026-07-15"
    sync_sms_conversations: bool = False
    sms_keywords: frozenset[str] = frozenset()
    sms_opt_out_match: str = "contains"
    sms_opt_out_phrases: tuple[str, ...] | None = None   # S10; None: the defaults, (): off
    solved_reopen_hours: float | None = None   # S11; None: a text always reopens a solved ticket
    sms_ticket_tags: tuple[str, ...] = ()
    sms_subject_template: str = "SMS from {masked_phone}"
    zendesk_group_id: int | None = None
    zendesk_brand_id: int | None = None
    zendesk_context_field_id: int | None = None   # A9: the ticket field showing the context
    ticket_context: bool = True        # A9: new tickets show the customer's last SMS + consent
    allow_insecure_upstreams: bool = False
    port: int = 8000
    sms_reply_mode: str = "conversations"
    quiet_hours: str | None = None     # A8 "21:00-08:00", on the customer's clock; None: off
    quiet_hours_tz: str | None = None  # A8: the zone of numbers that do not tell theirs
    whatsapp_template_flow_metric: str | None = None   # S9: the template flow's trigger
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
    reply_confirm_seconds: int = 120   # A6: how long an unanswered send is looked for
    zendesk_bulk_writes: bool = True   # E6: bulk jobs under a backlog (false: the baseline)
    quota_reservations: bool = True    # false: replies poll the budget (benchmark baseline)
    event_ttl_seconds: int = 14 * 24 * 3600     # an event's body, until its work is settled
    dedup_window_seconds: int = 3 * 24 * 3600   # then its id + outcome, against re-deliveries
    max_attempts: int = 8
    visibility_timeout: int = 600
    http_timeout_seconds: float = 10.0
    public_url: str | None = None   # where Zendesk reaches this bridge; only `provision` needs it
    ops_token: str | None = field(default=None, repr=False)   # /ops password; unset: page off
    metrics_require_auth: bool = False
    support_state_property: str = "Open support tickets"   # M5: the profile property
    brands_file: str | None = None     # E7: further brands (bridge/brands.py); None: one brand
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def zendesk_webhook_secrets(self) -> tuple[str, ...]:
        """Every accepted signing secret: during a rotation, the old and the new one."""
        return _several(self.zendesk_webhook_secret)

    @property
    def klaviyo_webhook_secrets(self) -> tuple[str, ...]:
        return _several(self.klaviyo_webhook_secret)

    @property
    def zendesk_uses_api_token(self) -> bool:
        """An API token is the credential in use (it stops working on 2027-04-30)."""
        return not (self.zendesk_oauth_client_id or self.zendesk_oauth_token) and \
            bool(self.zendesk_api_token)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate; raise `ConfigError` listing every problem."""
        p = EnvReader(os.environ if env is None else env)
        values = {**_upstreams(p), **_zendesk_auth(p), **_secrets(p), **_sms(p), **ops(p),
                  **_numbers(p), **redis_ha(p, int(default("redis_wait_ms"))),
                  **sms_threading(p), **_metrics(p),
                  **whatsapp(p)}
        p.problems += placeholder_problems(values, strict=not values["allow_insecure_upstreams"])
        p.raise_if_any()
        return cls(**values)


def _several(value: str) -> tuple[str, ...]:
    """Comma-separated secrets (a webhook secret never holds a comma)."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def default(name: str) -> object:
    """A setting's default (the field default above)."""
    return _DEFAULTS[name]


# Whole-number settings: variable -> (field, minimum). 0 means "the default" where no minimum
# is given (as PORT=0 always has).
NUMBERS: dict[str, tuple[str, int | None]] = {
    "PORT": ("port", None),
    "MAX_WEBHOOK_BYTES": ("max_webhook_bytes", None),
    "INBOUND_SETTLE_MS": ("inbound_settle_ms", 0),
    "REPLY_SETTLE_MS": ("reply_settle_ms", 0),
    "REPLY_CONFIRM_SECONDS": ("reply_confirm_seconds", 10),
    "MAX_ATTEMPTS": ("max_attempts", 1),
    "EVENT_TTL_SECONDS": ("event_ttl_seconds", 3600),
    "DEDUP_WINDOW_SECONDS": ("dedup_window_seconds", 3600),
    "HTTP_TIMEOUT_SECONDS": ("http_timeout_seconds", 1),
    "KLAVIYO_EVENTS_PER_MINUTE": ("klaviyo_events_per_minute", 2),
    "RECONCILE_INTERVAL_SECONDS": ("reconcile_interval_seconds", 10),
    "ZENDESK_EXPORTS_PER_MINUTE": ("zendesk_exports_per_minute", 2),
    "ZENDESK_REQUESTS_PER_MINUTE": ("zendesk_requests_per_minute", 2),
    "ZENDESK_UPDATES_PER_MINUTE": ("zendesk_updates_per_minute", 2),
    "KLAVIYO_PROFILES_PER_MINUTE": ("klaviyo_profiles_per_minute", 2),
    "KLAVIYO_MESSAGES_PER_MINUTE": ("klaviyo_messages_per_minute", 2),
    "CELERY_VISIBILITY_TIMEOUT": ("visibility_timeout", 30),
}


def _upstreams(p: EnvReader) -> dict[str, object]:
    """Where the vendors and Redis are; official https hosts only unless told otherwise."""
    zendesk_url = p.url("ZENDESK_URL", required=True)
    klaviyo_base = p.url("KLAVIYO_BASE_URL", default=str(default("klaviyo_base_url")))
    insecure = p.boolean("ALLOW_INSECURE_UPSTREAMS", False)
    if not insecure:
        p.secure_host("ZENDESK_URL", zendesk_url, zendesk_host)
        p.secure_host("KLAVIYO_BASE_URL", klaviyo_base, klaviyo_host)
    public_url = p.url("PUBLIC_URL")
    if public_url and not insecure and urlparse(public_url).scheme != "https":
        p.problem(f"PUBLIC_URL={public_url!r} must start with https:// (Zendesk delivers "
                  "webhooks to https endpoints only); ALLOW_INSECURE_UPSTREAMS=true allows "
                  "http for the sandbox or tests")
    redis_url = p.secret("REDIS_URL") or str(default("redis_url"))
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        p.problem("REDIS_URL must start with redis://, rediss:// or unix://")
    return {"zendesk_url": zendesk_url.rstrip("/"), "klaviyo_base_url": klaviyo_base.rstrip("/"),
            "allow_insecure_upstreams": insecure, "public_url": public_url.rstrip("/") or None,
            "redis_url": redis_url}


def _zendesk_auth(p: EnvReader) -> dict[str, object]:
    """One complete Zendesk credential: an OAuth client (the way for accounts made since
    2026-10-27), a static OAuth token, or an API token (these stop on 2027-04-30)."""
    email, token = p.text("ZENDESK_EMAIL"), p.secret("ZENDESK_API_TOKEN")
    oauth = p.secret("ZENDESK_OAUTH_TOKEN")
    client_id = p.text("ZENDESK_OAUTH_CLIENT_ID")
    client_secret = p.secret("ZENDESK_OAUTH_CLIENT_SECRET")
    if bool(client_id) != bool(client_secret):
        p.problem("set both ZENDESK_OAUTH_CLIENT_ID and ZENDESK_OAUTH_CLIENT_SECRET (the "
                  "OAuth client's identifier and secret from Admin Center > Apps and "
                  "integrations > APIs > OAuth clients)")
    elif not (client_id or oauth or (email and token)):
        p.problem("set ZENDESK_OAUTH_CLIENT_ID and ZENDESK_OAUTH_CLIENT_SECRET (a confidential "
                  "OAuth client: see the README's set-up), or ZENDESK_OAUTH_TOKEN, or "
                  "ZENDESK_EMAIL and ZENDESK_API_TOKEN (API tokens stop on 2027-04-30)")
    return {"zendesk_email": email, "zendesk_api_token": token, "zendesk_oauth_token": oauth,
            "zendesk_oauth_client_id": client_id, "zendesk_oauth_client_secret": client_secret,
            "zendesk_oauth_scope": p.text("ZENDESK_OAUTH_SCOPE")
            or str(default("zendesk_oauth_scope")),
            "zendesk_group_id": p.integer("ZENDESK_GROUP_ID"),
            "zendesk_brand_id": p.integer("ZENDESK_BRAND_ID"),
            "zendesk_context_field_id": p.integer("ZENDESK_CONTEXT_FIELD_ID")}


def _secrets(p: EnvReader) -> dict[str, object]:
    revision = p.text("KLAVIYO_REVISION") or str(default("klaviyo_revision"))
    if not REVISION.fullmatch(revision):
        p.problem(f"KLAVIYO_REVISION must look like 2026-07-15, got {revision!r}")
    return {"zendesk_webhook_secret": p.secret("ZENDESK_WEBHOOK_SECRET", required=True) or "",
            "klaviyo_api_key": p.secret("KLAVIYO_API_KEY", required=True) or "",
            "klaviyo_webhook_secret": p.secret("KLAVIYO_WEBHOOK_SECRET", required=True) or "",
            "klaviyo_revision": revision, "brands_file": p.text("BRANDS_FILE") or None}


def _sms(p: EnvReader) -> dict[str, object]:
    """The brand's SMS rules (S2 keywords, S5 subject, A6 reply mode)."""
    match = p.choice("SMS_OPT_OUT_MATCH", ("contains", "exact"))
    keywords = frozenset(k.strip().upper() for k in (p.text("SMS_KEYWORDS") or "").split(",")
                         if k.strip())
    for k in sorted(keywords):
        if not KEYWORD.fullmatch(k):
            p.problem(f"SMS_KEYWORDS entry {k!r} must be 3-20 letters or digits "
                      "(Klaviyo's rule for custom keywords)")
    subject = p.text("SMS_SUBJECT_TEMPLATE") or str(default("sms_subject_template"))
    if "{" in subject and not set(re.findall(r"{(\w*)}", subject)) <= SUBJECT_FIELDS:
        p.problem("SMS_SUBJECT_TEMPLATE may only use {masked_phone}, {brand_number}, {name} "
                  "and {first_words}")
    tags = tuple(t.strip() for t in (p.text("SMS_TICKET_TAGS") or "").split(",") if t.strip())
    return {"sms_opt_out_match": match, "sms_keywords": keywords,
            "sms_subject_template": subject, "sms_ticket_tags": tags,
            "sms_reply_mode": p.choice("SMS_REPLY_MODE", REPLY_MODES),
            "quiet_hours": p.daily_window("QUIET_HOURS"),      # A8, with its fallback zone:
            "quiet_hours_tz": p.time_zone("QUIET_HOURS_TZ", needed_by="QUIET_HOURS"),
            "sync_sms_conversations": p.boolean("SYNC_SMS_CONVERSATIONS",
                                                bool(default("sync_sms_conversations"))),
            "zendesk_bulk_writes": p.boolean("ZENDESK_BULK_WRITES", True),
            "quota_reservations": p.boolean("QUOTA_RESERVATIONS", True),
            "ticket_context": p.boolean("TICKET_CONTEXT", True)}


def _metrics(p: EnvReader) -> dict[str, object]:
    """M5: the Klaviyo profile property that counts a requester's open tickets. Names starting
    with `$` are Klaviyo's own special properties [assumed: not writable as custom ones]."""
    name = p.text("SUPPORT_STATE_PROPERTY") or str(default("support_state_property"))
    if name.startswith("$") or len(name) > 100:
        p.problem(f"SUPPORT_STATE_PROPERTY={name[:40]!r} must not start with $ and must be at "
                  "most 100 characters (flows filter on this profile property)")
    return {"support_state_property": name}


def _numbers(p: EnvReader) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, (field_name, minimum) in NUMBERS.items():
        value = p.integer(name, minimum=minimum)
        if value is None or (minimum is None and value == 0) or \
                (minimum is not None and value < minimum):
            value = _DEFAULTS[field_name]
        values[field_name] = float(value) if field_name == "http_timeout_seconds" else value
    return values


_DEFAULTS: dict[str, object] = {f.name: f.default for f in fields(Settings)
                                if f.default is not MISSING}
