"""Which upstream URLs the bridge will send credentials to, and which values are placeholders.

A URL is judged with the parser `requests` itself uses (urllib3's `parse_url`), so the host we
check is the host the client connects to: `https://evil.example\\@acme.zendesk.com` is
`evil.example` to requests, whatever `urllib.parse` says. Backslashes, userinfo, a query or a
fragment are refused everywhere; in strict mode (no ALLOW_INSECURE_UPSTREAMS) only
`https://<subdomain>.zendesk.com` and `https://a.klaviyo.com` pass, on the default port.

Placeholders: the example values this repository has published (`change-me`...) are refused
everywhere; the sandbox's well-known credentials are refused in strict mode.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

ZENDESK_HOST = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.zendesk\.com")
KLAVIYO_HOST = "a.klaviyo.com"
PLACEHOLDER_WORDS = ("change-me", "changeme", "change_me", "replace-me", "<")
SANDBOX_VALUES = frozenset({
    "sandbox-zendesk-webhook-secret", "sandbox-klaviyo-webhook-secret", "sandbox-zendesk-token",
    "sandbox-zendesk-oauth", "sandbox-oauth-client-secret", "pk_sandbox_key", "ops:zkbridge",
    "zkbridge"})
SECRET_FIELDS = ("zendesk_webhook_secret", "klaviyo_webhook_secret", "klaviyo_api_key",
                 "zendesk_api_token", "zendesk_oauth_token", "zendesk_oauth_client_secret",
                 "ops_token")
HostRule = Callable[[str], bool]


def url_problem(name: str, value: str, strict: bool, host_ok: HostRule | None = None) -> str | None:
    """What is wrong with `value` as an upstream base URL (None: fine). Never echoes userinfo."""
    shown = _shown(value)
    if "\\" in value or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return f"{name}={shown} holds a backslash, a space or a control character; write the " \
               f"plain address, e.g. https://yourshop.zendesk.com"
    try:
        url = parse_url(value)
    except LocationParseError:
        return f"{name}={shown} is not a URL the HTTP client can parse"
    if url.scheme not in ("http", "https") or not url.host:
        return f"{name} must be an http(s) URL such as https://yourshop.zendesk.com, got {shown}"
    if url.auth is not None or "@" in (url.netloc or ""):
        return f"{name} must not carry a user or password (user:password@host); credentials " \
               f"have their own variables"
    if url.query is not None or url.fragment is not None:
        return f"{name}={shown} must not have a query (?...) or fragment (#...)"
    if strict and host_ok is not None and not _official(url, host_ok):
        return (f"{name}={shown} is not an official https endpoint; set "
                "ALLOW_INSECURE_UPSTREAMS=true only for the sandbox or tests")
    return None


def zendesk_host(host: str) -> bool:
    return ZENDESK_HOST.fullmatch(host) is not None


def klaviyo_host(host: str) -> bool:
    return host == KLAVIYO_HOST


def _official(url, host_ok: HostRule) -> bool:  # noqa: ANN001 - urllib3's Url
    return (url.scheme == "https" and host_ok(url.host or "") and url.port in (None, 443)
            and (url.path or "/") == "/")


def _shown(value: str) -> str:
    """The value as a problem may show it: userinfo hidden, control characters escaped."""
    hidden = re.sub(r"(?<=://)[^/?#]*@", "***@", value)
    return repr(hidden[:200])


def placeholder_problem(name: str, value: str | None, strict: bool) -> str | None:
    """A published example or sandbox credential where a real secret belongs (None: fine)."""
    if not value:
        return None
    lowered = value.lower()
    if any(word in lowered for word in PLACEHOLDER_WORDS):
        return f"{name} still holds a placeholder value; set a real secret (make one with: " \
               f"python -c 'import secrets; print(secrets.token_urlsafe(24))')"
    if strict and (lowered in SANDBOX_VALUES or lowered.partition(":")[2] in SANDBOX_VALUES):
        return f"{name} holds the sandbox's published value; set your own secret (the " \
               f"sandbox values are accepted only with ALLOW_INSECURE_UPSTREAMS=true)"
    return None


def placeholder_problems(values: Mapping[str, object], strict: bool) -> list[str]:
    """`placeholder_problem` for every secret among settings `values` (field name -> value)."""
    found = (placeholder_problem(name.upper(), str(values.get(name) or ""), strict)
             for name in SECRET_FIELDS)
    return [problem for problem in found if problem]
