"""Zendesk credentials for every call: an API token (basic auth), a static OAuth bearer, or an
OAuth client (client credentials grant) whose bearer token is shared by every process through
Redis, so a fleet asks Zendesk for one token per lifetime, not one per process.

Renewal is single-flight: one process takes a short Redis lock and asks `/oauth/tokens`; the
others keep using the current token while it is valid, or wait a moment for the new one. A token
is renewed when about a tenth of its lifetime is left (at most 5 minutes before it expires),
and once more when Zendesk answers 401 to it (revoked, or the clocks disagree); that call is
then sent again once with the new token. A refused client (`invalid_client`) is counted and
raised as `CredentialsRefused`: tasks wait and retry, nothing crash-loops. Tokens and secrets
never appear in logs or exceptions: errors name the variable to check, never the value.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
import requests
from requests.auth import AuthBase

from bridge.adapters import redis_keys as keys
from bridge.errors import CredentialsRefused, RateLimited, Retryable

RENEW_AT_MOST = 300.0          # seconds before expiry
LOCK_SECONDS = 30
WAIT_FOR_PEER = 5.0            # how long a process waits for another's renewal
DEFAULT_LIFETIME = 24 * 3600   # when Zendesk names no expires_in
REFUSED = ("Zendesk OAuth refused the client credentials (invalid_client): check "
           "ZENDESK_OAUTH_CLIENT_ID and ZENDESK_OAUTH_CLIENT_SECRET (Admin Center > Apps and "
           "integrations > APIs > OAuth clients)")


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float
    lifetime: float

    @property
    def renew_at(self) -> float:
        return self.expires_at - min(self.lifetime / 10, RENEW_AT_MOST)


class TokenCache:
    """The shared token in Redis, its renewal lock and counters. Tokens are kept per OAuth
    client (a fingerprint of its id and secret): a process given another secret, such as
    `zkbridge check` with a wrong one, never borrows a token the right secret obtained."""

    def __init__(self, client: redis.Redis, oauth_client: str = "") -> None:
        self._r = client
        self._key = hashlib.sha256(oauth_client.encode()).hexdigest()[:16]

    def for_client(self, client_id: str, client_secret: str) -> TokenCache:
        return TokenCache(self._r, f"{client_id}\n{client_secret}")

    def get(self) -> Token | None:
        raw = self._r.get(keys.oauth_token(self._key))
        if not raw:
            return None
        doc = json.loads(raw)
        return Token(str(doc["token"]), float(doc["expires_at"]), float(doc["lifetime"]))

    def put(self, token: Token) -> None:
        doc = {"token": token.value, "expires_at": token.expires_at, "lifetime": token.lifetime}
        ttl = max(1, int(token.expires_at - time.time()) + 60)
        self._r.set(keys.oauth_token(self._key), json.dumps(doc), ex=ttl)

    def lock(self) -> Any:
        return self._r.lock(keys.oauth_lock(self._key), timeout=LOCK_SECONDS, blocking=False)

    def count(self, outcome: str, reason: str = "") -> None:
        self._r.hincrby(keys.COUNTERS, f"zendesk_oauth:{outcome}:{reason}", 1)


class ClientCredentials(AuthBase):
    """`requests` auth for an OAuth client: sets the shared bearer, renews it as above."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, scope: str,
                 cache: TokenCache, timeout: float = 10.0,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 session: requests.Session | None = None) -> None:
        self._url, self._scope = token_url, scope
        self._client = (client_id, client_secret)
        cache = cache.for_client(client_id, client_secret)
        self.cache, self.timeout, self.clock, self.sleep = cache, timeout, clock, sleep
        self._session = session or requests.Session()

    def __repr__(self) -> str:           # never the secret
        return f"ClientCredentials(client_id={self._client[0]!r})"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.current()}"
        r.register_hook("response", self._on_401)
        return r

    def current(self) -> str:
        token = self.cache.get()
        if token is not None and self.clock() < token.renew_at:
            return token.value
        return self.renew(stale=token)

    def renew(self, stale: Token | None) -> str:
        """A new token unless another process renewed `stale` already (single flight)."""
        lock = self.cache.lock()
        if not lock.acquire():
            return self._peer_renewal(stale)
        try:
            token = self.cache.get()
            if token is not None and token != stale and self.clock() < token.renew_at:
                return token.value
            token = self._request_token()
            self.cache.put(token)
            return token.value
        finally:
            _release(lock)

    def _peer_renewal(self, stale: Token | None) -> str:
        """Another process is asking Zendesk: use what is valid now, else wait for its token."""
        if stale is not None and self.clock() < stale.expires_at - 1:
            return stale.value
        waited = 0.0
        while waited < WAIT_FOR_PEER:
            self.sleep(0.1)
            waited += 0.1
            token = self.cache.get()
            if token is not None and token != stale and self.clock() < token.expires_at:
                return token.value
        raise Retryable("zendesk", "waited for another process to renew the Zendesk OAuth "
                                   "token; trying again")

    def _request_token(self) -> Token:
        body = {"grant_type": "client_credentials", "client_id": self._client[0],
                "client_secret": self._client[1], "scope": self._scope}
        try:
            resp = self._session.post(self._url, json=body, timeout=self.timeout)
        except requests.RequestException as e:
            raise Retryable("zendesk", f"Zendesk OAuth token request failed "
                                       f"({type(e).__name__})") from None
        return self._token_from(resp)

    def _token_from(self, resp: requests.Response) -> Token:
        if resp.status_code in (400, 401) and _error(resp) == "invalid_client":
            self.cache.count("refused", "invalid_client")
            raise CredentialsRefused("zendesk", REFUSED)
        if resp.status_code == 429:
            raise RateLimited("zendesk", float(resp.headers.get("Retry-After") or 5))
        if resp.status_code != 200:
            self.cache.count("failed", str(resp.status_code))
            raise Retryable("zendesk", f"Zendesk OAuth token request answered "
                                       f"{resp.status_code} ({_error(resp) or 'no reason'})",
                            resp.status_code)
        doc = resp.json()
        lifetime = float(doc.get("expires_in") or DEFAULT_LIFETIME)
        self.cache.count("issued")
        return Token(str(doc["access_token"]), self.clock() + lifetime, lifetime)

    def _on_401(self, r: requests.Response, **kwargs: Any) -> requests.Response:
        """Zendesk refused the token: renew it once and send the call again once."""
        if r.status_code != 401 or getattr(r.request, "zkb_auth_retried", False):
            return r
        used = str(r.request.headers.get("Authorization", "")).removeprefix("Bearer ")
        current = self.cache.get()
        # Another process may have renewed it already; else renew the one Zendesk refused.
        fresh = current.value if current is not None and current.value != used \
            else self.renew(stale=current)
        r.content  # noqa: B018 - read the body so the connection can be reused
        r.close()
        prep = r.request.copy()
        prep.headers["Authorization"] = f"Bearer {fresh}"
        prep.zkb_auth_retried = True        # type: ignore[attr-defined] - once only
        again = r.connection.send(prep, **kwargs)
        again.history.append(r)
        again.request = prep
        return again


def _error(resp: requests.Response) -> str:
    try:
        doc = resp.json()
    except ValueError:
        return ""
    return str(doc.get("error") or "") if isinstance(doc, dict) else ""


def _release(lock: Any) -> None:
    try:
        lock.release()
    except redis.RedisError:       # expired meanwhile (LockNotOwnedError): nothing to release
        pass
