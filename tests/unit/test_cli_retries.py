"""The CLI tries a vendor call again when the vendor is busy, and never when a repeat could
write twice (cli/retries.py)."""

from __future__ import annotations

import pytest

from bridge.errors import Permanent, RateLimited, Retryable
from cli.retries import ATTEMPTS, MAX_WAIT, Patient


class Flaky:
    """Fails with the given errors, one per call, then answers."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors, self.calls = list(errors), 0
        self.name = "flaky"

    def me(self) -> dict[str, str]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"email": "bridge@example.com"}


def patient(client: Flaky) -> tuple[Patient, list[float]]:
    waits: list[float] = []
    return Patient(client, sleep=waits.append), waits


def test_a_5xx_and_a_failed_connection_are_tried_again_until_the_call_answers() -> None:
    client = Flaky(Retryable("zendesk", "503", 503), Retryable("zendesk", "connection refused"))
    wrapped, waits = patient(client)
    assert wrapped.me() == {"email": "bridge@example.com"}
    assert client.calls == 3 and len(waits) == 2
    assert all(0 < w <= MAX_WAIT for w in waits)


def test_a_429_waits_its_retry_after_capped_for_a_person_at_the_terminal() -> None:
    client = Flaky(RateLimited("zendesk", 7.0), RateLimited("zendesk", 600.0))
    wrapped, waits = patient(client)
    wrapped.me()
    assert waits == [7.0, MAX_WAIT]


def test_it_gives_up_after_a_few_attempts_with_the_vendor_s_error() -> None:
    client = Flaky(*[Retryable("klaviyo", "502", 502)] * (ATTEMPTS + 1))
    wrapped, _ = patient(client)
    with pytest.raises(Retryable, match="502"):
        wrapped.me()
    assert client.calls == ATTEMPTS


def test_a_call_that_may_have_been_carried_out_is_not_repeated() -> None:
    lost = Retryable("zendesk", "sent, but no answer in time")
    lost.maybe_applied = True
    client = Flaky(lost)
    wrapped, waits = patient(client)
    with pytest.raises(Retryable):
        wrapped.me()
    assert client.calls == 1 and waits == []


def test_a_refusal_is_not_tried_again_and_attributes_pass_through() -> None:
    client = Flaky(Permanent("zendesk", "401 Unauthorized", 401))
    wrapped, _ = patient(client)
    with pytest.raises(Permanent):
        wrapped.me()
    assert client.calls == 1
    assert wrapped.name == "flaky"
