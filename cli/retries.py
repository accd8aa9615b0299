"""The command line's calls to Zendesk and Klaviyo, tried again (tenacity) when the vendor is
busy: a 429 (after its Retry-After), a 5xx or 409, a connection that failed. A command is run by
a person who waits for it, so it tries a few times, briefly, then says what went wrong.

Never tried again: refusals (`Permanent`), and a call that may have been carried out although
no answer came back (`maybe_applied`): repeating it could create a second webhook or event.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from bridge.errors import RateLimited, Retryable

ATTEMPTS = 4           # the first call and three more
MAX_WAIT = 30.0        # seconds, also for a longer Retry-After: the person may run it later
_backoff = wait_exponential_jitter(initial=1, max=8, jitter=1)


def worth_retrying(error: BaseException) -> bool:
    return isinstance(error, Retryable) and not error.maybe_applied


def wait_before_next(state: RetryCallState) -> float:
    """A 429's Retry-After (or our own budget's wait), otherwise 1, 2, 4 s plus jitter."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, RateLimited):
        return min(MAX_WAIT, max(0.0, error.retry_after))
    return min(MAX_WAIT, _backoff(state))


def retrying(sleep: Callable[[float], None] = time.sleep) -> Retrying:
    return Retrying(retry=retry_if_exception(worth_retrying), wait=wait_before_next,
                    stop=stop_after_attempt(ATTEMPTS), sleep=sleep, reraise=True)


class Patient:
    """A vendor client whose every method call is tried again as above; anything else passes
    through. Wraps the clients the CLI hands to bridge/ops (check, provision, backfill)."""

    def __init__(self, client: Any, sleep: Callable[[float], None] = time.sleep) -> None:
        self._client, self._sleep = client, sleep

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args: Any, **kwargs: Any) -> Any:
            return retrying(self._sleep)(attr, *args, **kwargs)
        return call
