"""End-to-end fixtures: one stack per test session (gunicorn, celery worker and beat, the
sandbox and a redis-server of our own on a free port, all separate processes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.devstack import Stack
from tests.e2e.harness import Bridge, make_stack

E2E_ENV = {
    "SMS_KEYWORDS": "VIP,SALE",
    "CELERY_VISIBILITY_TIMEOUT": "30",   # crash recovery within a test's patience
    "WORKER_CONCURRENCY": "4",
    "WEB_CONCURRENCY": "2",
    "MAX_ATTEMPTS": "4",                 # a poison event is set aside in seconds (test_operations)
}


def started(s: Stack) -> Iterator[Stack]:
    """A fixture's stack: started, yielded, stopped whatever happens."""
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from started(Stack(workdir=tmp_path_factory.mktemp("stack"), extra_env=E2E_ENV))


@pytest.fixture(scope="session")
def brands_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stack with bolt as a second brand (E7: harness.make_stack(brands=True))."""
    yield from started(make_stack(tmp_path_factory.mktemp("brands"), E2E_ENV, brands=True))


@pytest.fixture
def bridge(stack: Stack) -> Iterator[Bridge]:
    b = Bridge(stack)
    b.reset()
    yield b
