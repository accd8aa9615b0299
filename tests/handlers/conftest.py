"""Fixtures every handler test file shares: a clock the test moves and a fake Zendesk that
forgets Idempotency-Keys on that clock, as Zendesk does after two hours."""

from __future__ import annotations

import pytest

from tests.fakes import Clock, FakeZendesk


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def zendesk(clock: Clock) -> FakeZendesk:
    return FakeZendesk(clock)
