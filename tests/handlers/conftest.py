"""Fixtures every handler test file shares: a clock the test moves and a fake Zendesk that
forgets Idempotency-Keys on that clock, as Zendesk does after two hours; for bulk writes (E6),
the fake's bulk endpoints and a drainer over the test file's own `deps` store."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.handlers.bulk_drain import BulkDeps
from tests.bulk_fakes import FakeBulk
from tests.fakes import Clock, FakeZendesk


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def zendesk(clock: Clock) -> FakeZendesk:
    return FakeZendesk(clock)


@pytest.fixture
def bulk(zendesk: FakeZendesk) -> FakeBulk:
    return FakeBulk(zendesk)


@pytest.fixture
def drainer(deps: Any, bulk: FakeBulk, clock: Clock) -> BulkDeps:
    """The bulk drainer over the store of the test file's `deps` fixture."""
    return BulkDeps(store=deps.store, zendesk=bulk, clock=clock)
