"""Who may use the ops endpoints: whoever holds OPS_TOKEN (E5: ops endpoints need auth).

The token is accepted as `Authorization: Bearer <token>` (scrapers, scripts) or as HTTP basic
auth with user `ops` (browsers, which prompt for it after our 401). Never from the query
string: URLs end up in access logs, proxies and browser history. With OPS_TOKEN unset the
endpoints answer 503 saying so; they are never open.

Replay and purge are POST forms, and browsers resend basic-auth credentials with requests that
other sites trigger. So each form carries a CSRF token: its issue time and an HMAC of it keyed
by OPS_TOKEN, which another site can neither read nor compute. Only holders of the current
token can mint one, so it is bound to the credentials (rotate OPS_TOKEN, old forms stop).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, current_app, request

from bridge.config import Settings

OPS_USER = "ops"
REALM = "zkbridge ops"
CSRF_MAX_AGE = 8 * 3600


def credentials_ok(header: str | None, token: str) -> bool:
    """Does this Authorization header carry the token (Bearer, or Basic as user `ops`)?"""
    if not header or not token:
        return False
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return _same(value, token)
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, sep, password = decoded.partition(":")
    return bool(sep) and _same(user, OPS_USER) & _same(password, token)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def csrf_token(secret: str, now: float) -> str:
    issued = str(int(now))
    return f"{issued}.{_mac(secret, issued)}"


def csrf_ok(secret: str, value: str | None, now: float, max_age: float = CSRF_MAX_AGE) -> bool:
    issued, _, mac = (value or "").partition(".")
    if not issued.isdigit() or not _same(mac, _mac(secret, issued)):
        return False
    return -60 <= now - int(issued) <= max_age


def _mac(secret: str, issued: str) -> str:
    return hmac.new(secret.encode(), f"zkb-ops-csrf|{issued}".encode(), hashlib.sha256).hexdigest()


def denied(settings: Settings) -> Response | None:
    """The answer to give instead of the page, or None when the request may proceed."""
    if not settings.ops_token:
        return Response("The ops endpoints are switched off: set OPS_TOKEN (at least 16 "
                        "characters) in the receiver's environment and restart it, then sign in "
                        f"as user '{OPS_USER}' with that token as the password.\n", status=503,
                        mimetype="text/plain")
    if credentials_ok(request.headers.get("Authorization"), settings.ops_token):
        return None
    return Response("Authentication required: user 'ops', password OPS_TOKEN (or "
                    "'Authorization: Bearer <OPS_TOKEN>').\n", status=401, mimetype="text/plain",
                    headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'})


def ops_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: the view runs only for holders of OPS_TOKEN."""
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        answer = denied(current_app.extensions["zkb.settings"])
        return answer if answer is not None else view(*args, **kwargs)
    return guarded
