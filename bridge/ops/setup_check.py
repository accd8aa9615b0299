"""Setup check: is this installation able to do its job? One line per check, in words a support
engineer can act on (what is wrong, which setting or process to fix), never a secret.

Used by `zkbridge check` and the /ops page. Each `Check` is required (the bridge cannot work
without it: the CLI exits non-zero) or a warning (it works, but a guarantee is weakened, e.g.
Redis without persistence). Each check catches its own failures so one broken dependency never
hides the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from typing import Any, Protocol
from urllib.parse import urlparse

from bridge.config import Settings
from bridge.domain.brand_scope import DEFAULT, scope
from bridge.domain.redact import redact_params, redact_url
from bridge.errors import CredentialsRefused, Permanent, RateLimited, UpstreamError
from bridge.ops.check import Check
from bridge.ops.credential_checks import check_klaviyo_revision, check_zendesk_credential
from bridge.ports import StorePort

STAFF_ROLES = ("agent", "admin")
MAX_RATE_LIMIT_WAIT = 3.0


class ZendeskMe(Protocol):
    def me(self) -> dict[str, Any]: ...


class KlaviyoAccount(Protocol):
    def account(self) -> dict[str, Any]: ...


BrandAccount = tuple[str, Settings, KlaviyoAccount]   # a brand's name, settings, Klaviyo client


def run_checks(settings: Settings, store: StorePort, zendesk: ZendeskMe, klaviyo: KlaviyoAccount,
               workers_seen: Callable[[], list[str]],
               sleep: Callable[[float], None] = time.sleep,
               today: date | None = None,
               other_brands: Sequence[BrandAccount] = ()) -> list[Check]:
    """Every check, in the order a person would fix things: the one Zendesk account once, then
    the default brand's Klaviyo account and each other brand's (E7, #16)."""
    today = today or date.today()
    return [check_secrets(settings), check_upstreams(settings), check_sms_sync(settings),
            *check_redis(settings, store),
            check_workers(workers_seen),
            _once_more_if_throttled(lambda: check_zendesk(settings, zendesk), sleep),
            check_zendesk_credential(settings, today),
            *klaviyo_checks(settings, klaviyo, sleep=sleep, today=today),
            *(c for name, brand_settings, client in other_brands
              for c in klaviyo_checks(brand_settings, client, name, sleep, today))]


def klaviyo_checks(settings: Settings, klaviyo: KlaviyoAccount, brand: str = DEFAULT,
                   sleep: Callable[[float], None] = time.sleep,
                   today: date | None = None) -> list[Check]:
    """One brand's Klaviyo account: its API key and revision (`zkbridge check --brand`). A brand
    of the brands file is named in each line, with the file's field to fix."""
    today = today or date.today()
    with scope(brand):          # the call spends the brand's own Klaviyo budget
        checks = [_once_more_if_throttled(lambda: check_klaviyo(settings, klaviyo), sleep),
                  check_klaviyo_revision(settings, today)]
    if brand == DEFAULT:
        return checks
    return [replace(c, name=f"{c.name} (brand {brand})",
                    detail=_file_fields(c.detail, brand)) for c in checks]


def _file_fields(detail: str, brand: str) -> str:
    """A file brand's settings are fields of its table in BRANDS_FILE, not variables."""
    where = f" of brand {brand!r} in BRANDS_FILE"
    return (detail.replace("KLAVIYO_API_KEY", "klaviyo_api_key" + where)
            .replace("KLAVIYO_REVISION", "klaviyo_revision" + where))


def failed_required(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.required and not c.ok]


# --- Zendesk --------------------------------------------------------------------------------
def check_zendesk(settings: Settings, zendesk: ZendeskMe) -> Check:
    name = "Zendesk API user"
    who = _api_user(settings)
    try:
        me = zendesk.me()
    except CredentialsRefused as e:
        return Check(name, False, str(e))
    except Permanent as e:
        return Check(name, False, _zendesk_refusal(settings, who, e))
    except RateLimited:
        raise
    except UpstreamError as e:
        return Check(name, False, f"could not get an answer from Zendesk at "
                                  f"{settings.zendesk_url} ({e}); check ZENDESK_URL and that "
                                  f"this machine can reach it")
    if me.get("id") is None:
        # users/me answers anonymous callers too: a 200 alone proves nothing [API-NOTES].
        return Check(name, False, f"Zendesk treated the bridge as an anonymous visitor, so the "
                                  f"credentials for {who} were not accepted: check "
                                  f"{_zendesk_vars(settings)} and that ZENDESK_URL is your "
                                  f"account's address")
    role = str(me.get("role") or "unknown")
    if role not in STAFF_ROLES:
        return Check(name, False, f"{who} is an {role} in Zendesk; the bridge needs an agent or "
                                  f"admin to create tickets and comments for customers")
    note = "" if role == "admin" else " (provisioning webhooks, views and automations needs " \
                                      "an admin)"
    return Check(name, True, f"signed in to {settings.zendesk_url} as {who}, {role}{note}")


def _zendesk_refusal(settings: Settings, who: str, e: Permanent) -> str:
    if e.status == 401:
        what = ("OAuth client's token" if settings.zendesk_oauth_client_id else "OAuth token"
                if settings.zendesk_oauth_token else f"API token for {who}")
        return f"Zendesk rejected the {what}: check {_zendesk_vars(settings)}"
    if e.status == 403:
        return (f"Zendesk refused {who} access ({_reason(e)}): the user may be suspended or "
                f"API token access turned off in Admin Center")
    if e.status == 404:
        return (f"{settings.zendesk_url} does not answer like a Zendesk account (users/me "
                f"answered 404): check ZENDESK_URL")
    return f"Zendesk refused the credentials check: {e}"


def _reason(e: UpstreamError) -> str:
    """The upstream's own words, without our 'api: endpoint answered' prefix."""
    return str(e).rsplit(": ", 1)[-1]


def _api_user(settings: Settings) -> str:
    """The API user as shown to people: `bridge@…` (the domain is left out), or the token kind."""
    if settings.zendesk_oauth_client_id or settings.zendesk_oauth_token:
        return "the OAuth client's user"
    local = (settings.zendesk_email or "").partition("@")[0]
    return f"{local}@…" if local else "the API user"


def _zendesk_vars(settings: Settings) -> str:
    if settings.zendesk_oauth_client_id:
        return "ZENDESK_OAUTH_CLIENT_ID and ZENDESK_OAUTH_CLIENT_SECRET"
    return ("ZENDESK_OAUTH_TOKEN" if settings.zendesk_oauth_token
            else "ZENDESK_EMAIL and ZENDESK_API_TOKEN")


# --- Klaviyo --------------------------------------------------------------------------------
def check_klaviyo(settings: Settings, klaviyo: KlaviyoAccount) -> Check:
    name = "Klaviyo API key"
    try:
        account = klaviyo.account()
    except Permanent as e:
        if e.status == 401:
            detail = ("Klaviyo rejected the key in KLAVIYO_API_KEY: check it is a private API "
                      "key (pk_...) of this account and has not been revoked")
        elif e.status == 403:
            detail = (f"Klaviyo accepted the key but refused to show the account "
                      f"({_reason(e)}): give the key read access to accounts (and the "
                      f"profiles, events and conversations scopes the bridge uses)")
        elif e.status == 400:
            detail = (f"Klaviyo refused the request ({_reason(e)}): check "
                      f"KLAVIYO_REVISION ({settings.klaviyo_revision})")
        else:
            detail = f"Klaviyo refused the key check: {e}"
        return Check(name, False, detail)
    except RateLimited:
        raise
    except UpstreamError as e:
        return Check(name, False, f"could not get an answer from Klaviyo at "
                                  f"{settings.klaviyo_base_url} ({e}); check KLAVIYO_BASE_URL "
                                  f"and that this machine can reach it")
    contact = (account.get("attributes") or {}).get("contact_information") or {}
    label = contact.get("organization_name") or account.get("id") or "this account"
    return Check(name, True, f"the key is accepted (account: {label})")


def _once_more_if_throttled(run: Callable[[], Check], sleep: Callable[[float], None]) -> Check:
    """A 429 says nothing about the credentials; wait briefly once and ask again."""
    try:
        return run()
    except RateLimited as e:
        sleep(min(e.retry_after, MAX_RATE_LIMIT_WAIT))
    try:
        return run()
    except RateLimited as e:
        return Check(e.api.capitalize() + " API", False,
                     f"{e.api.capitalize()} is rate limiting this account right now "
                     f"(retry after {e.retry_after:.0f} s); run the check again shortly")


# --- configuration --------------------------------------------------------------------------
def check_secrets(settings: Settings) -> Check:
    missing = [var for var, value in (("ZENDESK_WEBHOOK_SECRET", settings.zendesk_webhook_secret),
                                      ("KLAVIYO_WEBHOOK_SECRET", settings.klaviyo_webhook_secret))
               if not value]
    if missing:
        return Check("Webhook secrets", False,
                     f"{' and '.join(missing)} not set: every delivery would be rejected; copy "
                     f"the signing secret of each webhook into it")
    return Check("Webhook secrets", True, "ZENDESK_WEBHOOK_SECRET and KLAVIYO_WEBHOOK_SECRET "
                                          "are set")


def check_upstreams(settings: Settings) -> Check:
    """ALLOW_INSECURE_UPSTREAMS is for the sandbox and tests: say so loudly anywhere else."""
    if settings.allow_insecure_upstreams:
        return Check("Upstream endpoints", False, "ALLOW_INSECURE_UPSTREAMS is on: ZENDESK_URL "
                     "and KLAVIYO_BASE_URL may be http:// or any host, and credentials go to "
                     "them as they are; the sandbox's published secrets are accepted. Turn it "
                     "off outside the sandbox and tests", required=False)
    return Check("Upstream endpoints", True, "official https endpoints only (Zendesk "
                 "*.zendesk.com, Klaviyo a.klaviyo.com)", required=False)


def check_sms_sync(settings: Settings) -> Check:
    if settings.sync_sms_conversations:
        how = ("Klaviyo Conversations API" if settings.sms_reply_mode == "conversations"
               else "a 'Zendesk Agent Reply' event and your Klaviyo flow")
        return Check("SMS sync", True, f"on: customers' texts become Zendesk tickets; agents' "
                                       f"replies go out through {how}", required=False)
    return Check("SMS sync", False, "off: texts are acknowledged and dropped (counted as "
                                    "sync_disabled); ticket metrics still sync. Set "
                                    "SYNC_SMS_CONVERSATIONS=true to turn SMS sync on",
                 required=False)


# --- Redis ----------------------------------------------------------------------------------
def check_redis(settings: Settings, store: StorePort) -> list[Check]:
    where = redacted_url(settings.redis_url)
    try:
        store.ping()
    except Exception as e:  # noqa: BLE001 - any client error means "not reachable"
        return [Check("Redis", False, f"cannot reach Redis at {where} ({type(e).__name__}): "
                                      f"check REDIS_URL and that Redis is running; the receiver "
                                      f"answers 503 until it is back")]
    out = [Check("Redis", True, f"answers at {where}")]
    try:
        memory, persistence = store.info("memory"), store.info("persistence")
    except Exception as e:  # noqa: BLE001 - managed Redis may refuse INFO
        return out + [Check("Redis settings", False, f"could not read Redis's settings "
                                                     f"({type(e).__name__}); make sure it runs "
                                                     f"with maxmemory-policy noeviction and "
                                                     f"appendonly yes", required=False)]
    policy = str(memory.get("maxmemory_policy") or "unknown")
    out.append(Check("Redis eviction", policy == "noeviction",
                     "maxmemory-policy is noeviction: Redis never drops stored events"
                     if policy == "noeviction" else
                     f"maxmemory-policy is {policy}: when memory runs short Redis may delete "
                     f"events already acknowledged to Zendesk and Klaviyo, and they are lost; "
                     f"set maxmemory-policy noeviction", required=False))
    aof = str(persistence.get("aof_enabled", "0")) == "1"
    out.append(Check("Redis persistence", aof,
                     "append-only file on: a Redis restart keeps acknowledged events" if aof else
                     "append-only file off: if Redis restarts, every event acknowledged but not "
                     "yet applied is lost; run Redis with appendonly yes and appendfsync "
                     "everysec", required=False))
    return out


def redacted_url(url: str) -> str:
    """A Redis URL fit to print: a password in its userinfo or its query (`?password=`)
    replaced by ***."""
    try:
        parsed = urlparse(url)
        if parsed.password is None:
            return redact_params(url)
        user = parsed.username or ""
        host = parsed.hostname or ""
        port = f":{parsed.port}" if parsed.port else ""
    except ValueError:     # a port that is no number: hide all the userinfo
        return redact_url(url)
    return redact_params(parsed._replace(netloc=f"{user}:***@{host}{port}").geturl())


# --- workers --------------------------------------------------------------------------------
def check_workers(workers_seen: Callable[[], list[str]]) -> Check:
    try:
        seen = sorted(workers_seen())
    except Exception as e:  # noqa: BLE001 - the broker may be down; say so, don't crash
        return Check("Workers", False, f"could not ask the workers ({type(e).__name__}: {e}); "
                                       f"check REDIS_URL, the workers' broker")
    if not seen:
        return Check("Workers", False, "no worker answered: start the worker process (Procfile "
                                       "'worker'); until one runs, events are stored and wait")
    return Check("Workers", True, f"{len(seen)} answered: {', '.join(seen)}")
