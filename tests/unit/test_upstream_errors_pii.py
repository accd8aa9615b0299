"""No phone number reaches a retry traceback (E5, issue 13): Flower shows tracebacks to anyone
with its login, and a requests exception's message holds the request URL, phone numbers in its
query included (`filter=equals(phone_number,"%2B1500...")`).

Each client call that carries a phone fails to connect the way urllib3 fails (the message names
the URL); the traceback of the task's retry, formatted as Celery formats it, holds no digits of
the number in any form. No socket: a transport adapter raises the error.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

import pytest
import requests
from requests.adapters import BaseAdapter

from bridge.adapters.klaviyo import KlaviyoClient
from bridge.adapters.zendesk import ZendeskClient
from bridge.domain.metric_rules import MetricEvent
from bridge.errors import FailedAttempt, Retryable

PHONE = "+15005550101"
DIGITS = "5005550101"


class Unreachable(BaseAdapter):
    """Every request fails like urllib3's pool does: the message carries the URL."""

    def __init__(self, error: type[requests.RequestException]) -> None:
        super().__init__()
        self.error = error

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        raise self.error(f"HTTPSConnectionPool(host='x', port=443): Max retries exceeded with "
                         f"url: {request.path_url} (body {request.body!r})", request=request)

    def close(self) -> None:
        pass


def session(error: type[requests.RequestException]) -> requests.Session:
    s = requests.Session()
    s.mount("https://", Unreachable(error))
    return s


def zendesk(error: type[requests.RequestException]) -> ZendeskClient:
    return ZendeskClient("https://acme.zendesk.com", email="bridge@acme.test", api_token="t",
                         session=session(error))


def klaviyo(error: type[requests.RequestException]) -> KlaviyoClient:
    return KlaviyoClient("https://a.klaviyo.com", api_key="pk_x", revision="2026-07-15",
                         session=session(error))


EVENT = MetricEvent(ticket_id=7, metric="Opened Ticket", profile={"phone_number": PHONE},
                    properties={"Subject": f"SMS from {PHONE}"}, unique_id="u1",
                    time="2026-07-01T00:00:00Z")
CALLS: dict[str, Callable[[type[requests.RequestException]], object]] = {
    "klaviyo find_profile_by_phone": lambda err: klaviyo(err).find_profile_by_phone(PHONE),
    "klaviyo create_event": lambda err: klaviyo(err).create_event(
        metric="Opened Ticket", profile={"phone_number": PHONE}, properties={}, unique_id="u"),
    "klaviyo bulk_create_events": lambda err: klaviyo(err).bulk_create_events([EVENT]),
    "zendesk create_or_update_user": lambda err: zendesk(err).create_or_update_user(
        name=PHONE, email=None, external_id=f"sms:{PHONE}", phone=PHONE),
    "zendesk create_ticket": lambda err: zendesk(err).create_ticket(
        {"external_id": f"zkb-sms:{PHONE}:+18005550100"}, "key-1"),
    "zendesk tickets_by_external_id": lambda err: zendesk(err).tickets_by_external_id(
        f"zkb-sms:{PHONE}:+18005550100"),
}


def retry_traceback(call: Callable[[], object]) -> str:
    """What Celery keeps for a retried task: the formatted exception chain of the failure the
    runner raises (`FailedAttempt(cause) from cause`)."""
    try:
        try:
            call()
        except Retryable as e:
            raise FailedAttempt(e, 1) from e
    except FailedAttempt as failed:
        return "".join(traceback.format_exception(failed))
    raise AssertionError("the call did not fail")


@pytest.mark.parametrize("error", [requests.ConnectionError, requests.ReadTimeout,
                                   requests.ConnectTimeout])
@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_failed_call_carrying_a_phone_leaves_no_digits_in_the_retry_traceback(
        name: str, error: type[requests.RequestException]) -> None:
    text = retry_traceback(lambda: CALLS[name](error))
    assert DIGITS not in text, text
    assert "%2B1" not in text and "Max retries" not in text
    assert error.__name__ in text or "in time" in text    # still says what went wrong
