"""One request funnel for both APIs: timeouts always set, responses mapped to three error kinds.

Clients never sleep or retry; the task layer does (E2), using what these errors carry.
Error messages keep the status and a short upstream reason, never request headers (secrets),
and never the library's exception for a failed call: its message holds the request URL, and
with it phone numbers and emails in query strings (E5; Flower shows retry tracebacks).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import Any

import requests

from bridge.errors import Permanent, RateLimited, Retryable

DEFAULT_RETRY_AFTER = 5.0


def parse_retry_after(value: str | None, now: float | None = None) -> float:
    """Seconds from a Retry-After header (seconds or HTTP date); a default if absent/garbled."""
    if not value:
        return DEFAULT_RETRY_AFTER
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    return max(0.0, when - (now if now is not None else time.time()))


def _body(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return resp.text[:500]


Observer = Callable[[str, str, int | None], None]
Gate = Callable[[str], float]   # endpoint -> seconds to wait before calling (0: go)


class Funnel:
    """Sends requests for one API and classifies the outcome.

    `observe(api, endpoint, status)` is called for every attempt (status None on network
    errors); metrics hang off it without the clients knowing about them.
    """

    def __init__(self, api: str, base_url: str, session: requests.Session, timeout: float,
                 observe: Observer | None = None, gate: Gate | None = None) -> None:
        self.api, self.base_url, self.session, self.timeout = api, base_url, session, timeout
        self.observe = observe
        self.gate = gate

    def request(self, method: str, path: str, endpoint: str, **kwargs: Any) -> requests.Response:
        if self.gate is not None:
            wait = self.gate(endpoint)
            if wait > 0:
                raise RateLimited(self.api, wait, local=True)
        failure: Retryable | None = None
        try:
            resp = self.session.request(method, self.base_url + path, timeout=self.timeout,
                                        **kwargs)
        except requests.RequestException as e:
            failure = _network_failure(self.api, endpoint, e)
        if failure is not None:
            # Raised outside the `except`, so the library's exception (whose message holds the
            # request URL, phone numbers in its query included) is neither cause nor context.
            self._seen(endpoint, None)
            raise failure
        self._seen(endpoint, resp.status_code)
        if resp.status_code < 400:
            return resp
        body = _body(resp)
        if resp.status_code == 429:
            raise RateLimited(self.api, parse_retry_after(resp.headers.get("Retry-After")), body)
        if resp.status_code == 409 or resp.status_code >= 500:
            raise Retryable(self.api, f"{endpoint} answered {resp.status_code}",
                            resp.status_code, body)
        raise Permanent(self.api, f"{endpoint} answered {resp.status_code}: {_summary(body)}",
                        resp.status_code, body)

    def _seen(self, endpoint: str, status: int | None) -> None:
        if self.observe is not None:
            self.observe(self.api, endpoint, status)


def _network_failure(api: str, endpoint: str, e: requests.RequestException) -> Retryable:
    """The error for a call that got no answer: its kind, never the library's message (E5)."""
    if isinstance(e, requests.ConnectTimeout):
        return Retryable(api, f"{endpoint} could not connect in time")
    if isinstance(e, requests.Timeout):
        err = Retryable(api, f"{endpoint} sent, but no answer in time")
        err.maybe_applied = True
        return err
    return Retryable(api, f"{endpoint} failed: {type(e).__name__}")


def _summary(body: Any) -> str:
    """A short, secret-free description of an error body."""
    if isinstance(body, dict):
        if "errors" in body and isinstance(body["errors"], list) and body["errors"]:
            first = body["errors"][0]
            if isinstance(first, dict):
                return str(first.get("detail") or first.get("title") or first)[:300]
        return str(body.get("description") or body.get("error") or body)[:300]
    return str(body)[:300]
