"""Zendesk OAuth, client credentials grant [doc]: `POST /oauth/tokens` hands out bearer tokens
that expire, so the bridge's token sharing and renewal can be tried locally.

- Request: JSON (or form) `{"grant_type": "client_credentials", "client_id", "client_secret",
  "scope", "expires_in"?}`; answer 200 `{"access_token", "token_type": "bearer", "scope",
  "expires_in"}`. A wrong client id or secret answers 401 `{"error": "invalid_client",
  "error_description": ...}` [doc]; another grant type 400 `unsupported_grant_type`.
- A token is accepted until it expires, then every call with it answers 401 (api.py asks
  `valid`). `expires_in` in the request can only shorten the configured lifetime [assumed].
- Calls are counted as `zendesk-oauth POST /oauth/tokens` in `/_sandbox/calls`, apart from the
  API's. `/_sandbox/zendesk/oauth`: GET `{"token_requests", "tokens_issued", "token_seconds"}`;
  POST `{"token_seconds"}` changes the lifetime of tokens issued from now on, `{"reset": true}`
  forgets issued tokens and zeroes the counters.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from typing import Any

from flask import Blueprint, jsonify, request

INVALID_CLIENT = {"error": "invalid_client",
                  "error_description": "Client authentication failed due to unknown client, "
                                       "no client authentication included, or unsupported "
                                       "authentication method."}


class OAuthIssuer:
    def __init__(self, client_id: str, client_secret: str, token_seconds: int) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.token_seconds = token_seconds
        self._tokens: dict[str, float] = {}           # access token -> expires at
        self._lock = threading.Lock()
        self.token_requests = 0

    def valid(self, token: str) -> bool:
        with self._lock:
            expires = self._tokens.get(token)
        return expires is not None and time.time() < expires

    def client_ok(self, client_id: str, client_secret: str) -> bool:
        return bool(self.client_secret) and \
            hmac.compare_digest(client_id.encode(), self.client_id.encode()) and \
            hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def issue(self, requested: Any) -> tuple[str, int]:
        lifetime = self.token_seconds
        if isinstance(requested, int) and 0 < requested < lifetime:
            lifetime = requested
        token = secrets.token_urlsafe(24)
        with self._lock:
            now = time.time()
            self._tokens = {t: e for t, e in self._tokens.items() if e > now}
            self._tokens[token] = now + lifetime
        return token, lifetime

    def stats(self) -> dict[str, int]:
        return {"token_requests": self.token_requests, "tokens_issued": len(self._tokens),
                "token_seconds": self.token_seconds}

    def reset(self) -> None:
        with self._lock:
            self._tokens.clear()
            self.token_requests = 0


def _token_request() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else request.form.to_dict()


def register(bp: Blueprint, sb: Any, issuer: OAuthIssuer) -> None:
    """`POST /oauth/tokens` (through the gate: counted, faults apply) and its admin route."""

    @bp.post("/oauth/tokens")
    def oauth_tokens() -> Any:
        issuer.token_requests += 1
        # Counted apart from the API's calls (`zendesk-oauth ...`): the token endpoint is not
        # one of the API's rate-limited endpoints, and a fleet asks it once per lifetime.
        gate = sb.gate("zendesk-oauth", "POST /oauth/tokens", [])
        if gate.kind is not None:
            return jsonify({"error": "temporarily_unavailable"}), 503
        data = _token_request()
        if data.get("grant_type") != "client_credentials":
            return jsonify({"error": "unsupported_grant_type"}), 400
        if not issuer.client_ok(str(data.get("client_id") or ""),
                                str(data.get("client_secret") or "")):
            return jsonify(INVALID_CLIENT), 401
        token, lifetime = issuer.issue(data.get("expires_in"))
        return jsonify({"access_token": token, "token_type": "bearer",
                        "scope": data.get("scope") or "read write", "expires_in": lifetime})

    @bp.route("/_sandbox/zendesk/oauth", methods=["GET", "POST"])
    def oauth_admin() -> Any:
        if request.method == "POST":
            data = request.get_json(silent=True) or {}
            if data.get("reset"):
                issuer.reset()
            seconds = data.get("token_seconds")
            if seconds is not None:
                if not isinstance(seconds, int) or seconds < 1:
                    return jsonify({"error": "bad_request",
                                    "description": "token_seconds must be a positive integer"}), 400
                issuer.token_seconds = seconds
        return jsonify(issuer.stats())
