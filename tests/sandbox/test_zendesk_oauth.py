"""The sandbox's Zendesk OAuth (client credentials): tokens are issued to the right client,
refused to a wrong secret with `invalid_client`, accepted until they expire and 401 after."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.zendesk import oauth

GRANT = {"grant_type": "client_credentials", "client_id": "zkbridge",
         "client_secret": "sandbox-oauth-client-secret", "scope": "read write"}


@pytest.fixture
def client() -> Any:
    return create_app(SandboxConfig(zendesk_oauth_token_seconds=20)).test_client()


def me(client: Any, token: str) -> Any:
    return client.get("/api/v2/users/me", headers={"Authorization": f"Bearer {token}"})


def test_a_client_credentials_grant_gets_a_bearer_token_that_works(client: Any) -> None:
    answer = client.post("/oauth/tokens", json=GRANT)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 20
    assert body["scope"] == "read write"
    user = me(client, body["access_token"]).get_json()["user"]
    assert user["id"] is not None and user["role"] == "admin"


def test_a_wrong_client_secret_is_refused_as_invalid_client(client: Any) -> None:
    answer = client.post("/oauth/tokens", json={**GRANT, "client_secret": "wrong"})
    assert answer.status_code == 401
    assert answer.get_json()["error"] == "invalid_client"
    assert client.get("/_sandbox/zendesk/oauth").get_json()["token_requests"] == 1


def test_a_token_answers_401_once_it_has_expired(client: Any, monkeypatch) -> None:
    token = client.post("/oauth/tokens", json=GRANT).get_json()["access_token"]
    assert me(client, token).status_code == 200
    now = oauth.time.time()
    monkeypatch.setattr(oauth.time, "time", lambda: now + 21)
    assert me(client, token).status_code == 401


def test_the_lifetime_can_be_changed_and_only_shortened_by_the_request(client: Any) -> None:
    assert client.post("/_sandbox/zendesk/oauth", json={"token_seconds": 5}).status_code == 200
    assert client.post("/oauth/tokens", json=GRANT).get_json()["expires_in"] == 5
    longer = client.post("/oauth/tokens", json={**GRANT, "expires_in": 999}).get_json()
    shorter = client.post("/oauth/tokens", json={**GRANT, "expires_in": 2}).get_json()
    assert (longer["expires_in"], shorter["expires_in"]) == (5, 2)
    assert client.post("/oauth/tokens", json={**GRANT, "grant_type": "password"}
                       ).status_code == 400
