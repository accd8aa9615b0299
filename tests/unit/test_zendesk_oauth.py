"""The shared Zendesk OAuth token (bridge/adapters/zendesk_auth.py), with fakes: one token per
lifetime for a fleet, renewal a tenth before expiry, single flight between processes, one renewal
and one resend on a 401, and a refused client that names what to fix and never its secret."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import fakeredis
import pytest
import requests
from requests.adapters import BaseAdapter

from bridge.adapters.zendesk import ZendeskClient
from bridge.adapters.zendesk_auth import ClientCredentials, TokenCache
from bridge.errors import CredentialsRefused, Permanent
from tests.fakes import Clock

BASE = "https://acme.zendesk.test"
SECRET = "s3cr3t-client-secret"


class FakeZendeskHttp(BaseAdapter):
    """Zendesk over HTTP: `/oauth/tokens` issues t1, t2, ...; the API accepts `valid` tokens."""

    def __init__(self, lifetime: int = 100, secret: str = SECRET) -> None:
        super().__init__()
        self.lifetime, self.secret = lifetime, secret
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.api_calls: list[str] = []
        self.accept_new = True                 # False: Zendesk refuses even new tokens
        self.lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        if request.url.endswith("/oauth/tokens"):
            return self._token(json.loads(request.body))
        token = str(request.headers.get("Authorization", "")).removeprefix("Bearer ")
        self.api_calls.append(token)
        if token in self.valid:
            return _response(request, self, 200, {"user": {"id": 1, "role": "admin"}})
        return _response(request, self, 401, {"error": "Couldn't authenticate you"})

    def _token(self, body: dict) -> requests.Response:
        if body["client_secret"] != self.secret:
            return _response(None, self, 401, {"error": "invalid_client"})
        with self.lock:
            token = f"t{len(self.issued) + 1}"
            self.issued.append(token)
            if self.accept_new:
                self.valid.add(token)
        return _response(None, self, 200, {"access_token": token, "token_type": "bearer",
                                           "expires_in": self.lifetime})

    def close(self) -> None:
        pass


def _response(request: requests.PreparedRequest | None, adapter: BaseAdapter, status: int,
              body: dict) -> requests.Response:
    resp = requests.Response()
    resp.status_code, resp._content = status, json.dumps(body).encode()
    resp.headers["Content-Type"] = "application/json"
    resp.request, resp.connection = request, adapter
    return resp


def session(http: FakeZendeskHttp) -> requests.Session:
    s = requests.Session()
    s.mount("https://", http)
    return s


def process(r: fakeredis.FakeRedis, http: FakeZendeskHttp, clock: Clock,
            sleep: Callable[[float], None] | None = None,
            secret: str = SECRET) -> tuple[ClientCredentials, ZendeskClient]:
    """One bridge process: its own HTTP session, the fleet's shared Redis."""
    auth = ClientCredentials(f"{BASE}/oauth/tokens", "zkbridge", secret, "read write",
                             TokenCache(r), clock=clock, sleep=sleep or clock.sleep,
                             session=session(http))
    return auth, ZendeskClient(BASE, auth=auth, session=session(http))


def shared(r: fakeredis.FakeRedis) -> TokenCache:
    """The fleet's cache for the right client, as another process sees it."""
    return TokenCache(r).for_client("zkbridge", SECRET)


@pytest.fixture
def r() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


def test_a_fleet_shares_one_token_per_lifetime(r: fakeredis.FakeRedis) -> None:
    http, clock = FakeZendeskHttp(), Clock()
    clients = [process(r, http, clock)[1] for _ in range(3)]
    for client in clients * 2:
        assert client.me()["id"] == 1
    assert http.issued == ["t1"]
    assert set(http.api_calls) == {"t1"}


def test_the_token_is_renewed_when_a_tenth_of_its_lifetime_is_left(
        r: fakeredis.FakeRedis) -> None:
    http, clock = FakeZendeskHttp(lifetime=100), Clock()
    _, client = process(r, http, clock)
    client.me()
    clock.advance(89)                         # 11 s left: not yet
    client.me()
    assert http.issued == ["t1"]
    clock.advance(2)                          # 9 s left: renewed before it runs out
    client.me()
    assert http.issued == ["t1", "t2"] and http.api_calls[-1] == "t2"


def test_a_long_lived_token_is_renewed_at_most_five_minutes_before_expiry(
        r: fakeredis.FakeRedis) -> None:
    http, clock = FakeZendeskHttp(lifetime=7200), Clock()
    _, client = process(r, http, clock)
    client.me()
    clock.advance(7200 - 301)
    client.me()
    assert http.issued == ["t1"]
    clock.advance(2)
    client.me()
    assert http.issued == ["t1", "t2"]


def test_while_another_process_renews_a_still_valid_token_is_used(
        r: fakeredis.FakeRedis) -> None:
    http, clock = FakeZendeskHttp(lifetime=100), Clock()
    _, first = process(r, http, clock)
    first.me()
    clock.advance(95)                          # due for renewal, still valid
    holder = shared(r).lock()
    assert holder.acquire()                    # another process is renewing right now
    _, second = process(r, http, clock)
    assert second.me()["id"] == 1
    assert http.issued == ["t1"]


def test_an_expired_token_waits_for_the_renewal_another_process_makes(
        r: fakeredis.FakeRedis) -> None:
    http, clock = FakeZendeskHttp(lifetime=100), Clock()
    peer, _ = process(r, http, clock)
    peer.current()
    clock.advance(101)                         # expired
    holder = shared(r).lock()
    assert holder.acquire()

    def meanwhile_the_peer_renews(seconds: float) -> None:
        clock.advance(seconds)
        if http.issued == ["t1"]:              # the peer's own call, made under its lock
            shared(r).put(peer._request_token())

    _, waiting = process(r, http, clock, sleep=meanwhile_the_peer_renews)
    assert waiting.me()["id"] == 1
    assert http.issued == ["t1", "t2"] and http.api_calls[-1] == "t2"


def test_two_processes_renewing_at_once_ask_zendesk_once(r: fakeredis.FakeRedis) -> None:
    http, clock = FakeZendeskHttp(lifetime=100), Clock()
    # Real (short) sleeps: the process that finds the lock taken polls for the other's token.
    processes = [process(r, http, clock, sleep=time.sleep)[0] for _ in range(2)]
    barrier, tokens = threading.Barrier(2), []

    def renew(auth: ClientCredentials) -> None:
        barrier.wait()
        tokens.append(auth.current())

    threads = [threading.Thread(target=renew, args=(a,)) for a in processes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert tokens == ["t1", "t1"] and http.issued == ["t1"]


def test_a_401_on_a_fresh_token_renews_it_once_and_sends_the_call_again(
        r: fakeredis.FakeRedis) -> None:
    http, clock = FakeZendeskHttp(lifetime=3600), Clock()
    _, client = process(r, http, clock)
    client.me()
    http.valid.discard("t1")                   # revoked in Zendesk, still fresh for us
    assert client.me()["id"] == 1
    assert http.issued == ["t1", "t2"]
    assert http.api_calls[-2:] == ["t1", "t2"]


def test_a_second_401_is_not_chased_in_a_loop(r: fakeredis.FakeRedis) -> None:
    http, clock = FakeZendeskHttp(lifetime=3600), Clock()
    _, client = process(r, http, clock)
    client.me()
    http.valid.clear()
    http.accept_new = False                    # every new token is refused too
    with pytest.raises(Permanent) as refused:
        client.me()
    assert refused.value.status == 401
    assert len(http.api_calls) == 3 and http.issued == ["t1", "t2"]


def test_a_wrong_client_secret_names_zendesk_oauth_and_is_counted_never_shown(
        r: fakeredis.FakeRedis) -> None:
    http, clock = FakeZendeskHttp(), Clock()
    _, client = process(r, http, clock, secret="wrong-secret-value")
    with pytest.raises(CredentialsRefused) as refused:
        client.me()
    message = str(refused.value)
    assert "Zendesk OAuth" in message and "invalid_client" in message
    assert "ZENDESK_OAUTH_CLIENT_SECRET" in message
    assert "wrong-secret-value" not in message and refused.value.retry_after > 0
    assert int(r.hget("zkb:counters", "zendesk_oauth:refused:invalid_client")) == 1
    assert http.api_calls == []                # nothing half-applied: no API call was made


def test_a_process_with_another_secret_never_borrows_the_fleet_s_token(
        r: fakeredis.FakeRedis) -> None:
    http, clock = FakeZendeskHttp(), Clock()
    process(r, http, clock)[1].me()                       # the fleet has a good token
    _, wrong = process(r, http, clock, secret="a-wrong-secret")
    with pytest.raises(CredentialsRefused):
        wrong.me()
    assert http.issued == ["t1"]
