"""The request funnel (E2): Retry-After parsing and the mapping of outcomes to error kinds.

A tiny stand-in session answers with real `requests.Response` objects; no network.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
import requests

from bridge.adapters.http import DEFAULT_RETRY_AFTER, Funnel, parse_retry_after
from bridge.errors import Permanent, RateLimited, Retryable

NOW = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC).timestamp()


def response(status: int, body: Any = None,
             headers: dict[str, str] | None = None) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.headers.update(headers or {})
    resp._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return resp


class FakeSession:
    """Answers every request with `outcome` (a Response, or an exception to raise)."""

    def __init__(self, outcome: requests.Response | Exception) -> None:
        self.outcome = outcome
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.calls.append({"method": method, "url": url, **kwargs})
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def funnel(outcome: requests.Response | Exception,
           seen: list | None = None) -> tuple[Funnel, FakeSession]:
    session = FakeSession(outcome)
    observe = (lambda *a: seen.append(a)) if seen is not None else None
    return Funnel("zendesk", "https://acme.zendesk.com", session, 7.5, observe), session


def send(outcome: requests.Response | Exception) -> Exception:
    f, _ = funnel(outcome)
    with pytest.raises(Exception) as err:
        f.request("PUT", "/api/v2/tickets/5158", "PUT tickets/{id}")
    return err.value


# --- Retry-After ----------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "seconds"), [("30", 30.0), (" 7 ", 7.0), ("0", 0.0),
                                                ("1.5", 1.5), ("-4", 0.0)])
def test_retry_after_in_seconds_is_read_as_is(value: str, seconds: float) -> None:
    assert parse_retry_after(value) == seconds


def test_retry_after_as_an_http_date_is_the_time_until_then() -> None:
    later = format_datetime(datetime(2026, 11, 25, 10, 1, 30, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(later, now=NOW) == 90.0


def test_retry_after_as_an_http_date_in_the_past_means_now() -> None:
    earlier = format_datetime(datetime(2026, 11, 25, 9, 0, 0, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(earlier, now=NOW) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "Wed, 99 Foo 2026", "12s"])
def test_a_missing_or_garbled_retry_after_falls_back_to_the_default(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) == DEFAULT_RETRY_AFTER


# --- classification -------------------------------------------------------------------------

def test_a_success_is_returned_and_the_timeout_is_always_set() -> None:
    ok = response(200, {"ticket": {"id": 5158}})
    f, session = funnel(ok)
    assert f.request("GET", "/api/v2/tickets/5158", "GET tickets/{id}",
                     params={"include": "users"}) is ok
    assert session.calls == [{"method": "GET", "url": "https://acme.zendesk.com/api/v2/tickets/5158",
                              "timeout": 7.5, "params": {"include": "users"}}]


def test_a_429_is_rate_limited_with_the_retry_after_it_named() -> None:
    err = send(response(429, {"errors": [{"code": "throttled"}]}, {"Retry-After": "12"}))
    assert isinstance(err, RateLimited)
    assert isinstance(err, Retryable)
    assert err.retry_after == 12.0
    assert err.status == 429


def test_a_429_without_retry_after_waits_the_default() -> None:
    err = send(response(429, b""))
    assert isinstance(err, RateLimited)
    assert err.retry_after == DEFAULT_RETRY_AFTER


@pytest.mark.parametrize("status", [409, 500, 502, 503, 504])
def test_conflicts_and_server_errors_are_retryable(status: int) -> None:
    err = send(response(status, {"error": "DatabaseConflict"}))
    assert type(err) is Retryable
    assert err.status == status


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_client_errors_are_permanent(status: int) -> None:
    err = send(response(status, {"error": "RecordInvalid"}))
    assert type(err) is Permanent
    assert err.status == status


def test_a_permanent_error_keeps_the_body_and_names_the_upstream_reason() -> None:
    body = {"error": "RecordInvalid", "description": "Record validation errors",
            "details": {"status": [{"description": "Status: closed prevents ticket update"}]}}
    err = send(response(422, body))
    assert err.body == body
    assert "422" in str(err) and "Record validation errors" in str(err)


def test_a_klaviyo_error_body_is_summarised_by_its_first_detail() -> None:
    err = send(response(400, {"errors": [{"status": 400, "title": "Invalid input.",
                                          "detail": "Unknown revision"}]}))
    assert "Unknown revision" in str(err)


def test_a_non_json_error_body_is_kept_as_text() -> None:
    err = send(response(404, b"<html>Not Found</html>"))
    assert isinstance(err, Permanent)
    assert err.body == "<html>Not Found</html>"


@pytest.mark.parametrize("exc", [requests.Timeout("read timed out"),
                                 requests.ConnectTimeout("connect timed out"),
                                 requests.ConnectionError("refused")])
def test_timeouts_and_connection_errors_are_retryable(exc: Exception) -> None:
    err = send(exc)
    assert type(err) is Retryable
    assert err.status is None


def test_every_attempt_is_observed_with_its_status() -> None:
    seen: list = []
    f, _ = funnel(response(503, b""), seen)
    with pytest.raises(Retryable):
        f.request("GET", "/x", "GET x")
    f, _ = funnel(requests.Timeout(), seen)
    with pytest.raises(Retryable):
        f.request("GET", "/x", "GET x")
    assert seen == [("zendesk", "GET x", 503), ("zendesk", "GET x", None)]


def test_error_messages_never_carry_request_headers() -> None:
    f, _ = funnel(response(401, {"error": "Couldn't authenticate you"}))
    with pytest.raises(Permanent) as err:
        f.request("GET", "/api/v2/users/me", "GET users/me",
                  headers={"Authorization": "Basic c2VjcmV0"})
    assert "c2VjcmV0" not in str(err.value)
    assert "Couldn't authenticate you" in str(err.value)
