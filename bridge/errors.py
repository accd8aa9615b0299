"""The one error tree. Clients, handlers and tasks raise these; the task base (workers/base.py)
classifies them into retry, wait or set aside (E2), so every layer agrees on what a failure means.

- `UpstreamError`: a vendor call failed. `Retryable` (timeouts, 5xx, 409; `maybe_applied` when
  the request may have been carried out), `RateLimited` (429 or our own budget, `local`),
  `Permanent` (any other 4xx), with the domain refusals `TicketClosed`, `TicketGone` and the
  reply outcome `ReplyOutcomeUnknown` (replayable: a replay looks for the reply first, A6).
- `Deferred` / `QueueBusy`: not now and not a failure (a budget, a peer holding the queue).
- `ConfigError`: every configuration problem found at start-up, one per line.

`replayable` is saved with a failed job so the ops page and the CLI know whether a replay is safe.
"""

from __future__ import annotations

from typing import Any


class UpstreamError(Exception):
    """A vendor call failed; the subclasses say whether and when to try again."""

    replayable = True   # saved with a failed job: may an operator run it again?

    def __init__(self, api: str, message: str, status: int | None = None,
                 body: Any = None) -> None:
        self.api, self.status, self.body = api, status, body
        self._args = (api, message, status, body)
        super().__init__(f"{api}: {message}")

    def __reduce__(self):  # noqa: ANN204 - Celery pickles exceptions into task results/logs
        return (_rebuild, (type(self), self._args, self.__dict__))


class Retryable(UpstreamError):
    """Timeouts, connection errors, 5xx and 409: try again later with backoff.

    `maybe_applied` is set when the request may have reached the vendor and been acted on
    (the response never came back): a non-idempotent call must not simply be repeated.
    """

    maybe_applied = False


class RateLimited(Retryable):
    """429 (try again after the Retry-After header's seconds), or our own shared budget for
    this API is spent for now (`local`: no request was made)."""

    def __init__(self, api: str, retry_after: float, body: Any = None,
                 local: bool = False) -> None:
        self.retry_after = retry_after
        self.local = local
        why = "budget spent" if local else "rate limited"
        super().__init__(api, f"{why}, retry after {retry_after:.0f}s", 429, body)
        self._args = (api, retry_after, body, local)


class Permanent(UpstreamError):
    """Any other 4xx: retrying cannot help; the job goes to failed jobs."""


def _rebuild(cls: type, args: tuple, state: dict[str, Any]) -> UpstreamError:
    err = cls(*args)
    err.__dict__.update(state)
    return err


class TicketClosed(Permanent):
    """The ticket is closed: a new follow-up ticket is needed (S4)."""


class TicketGone(Permanent):
    """The ticket was deleted (404)."""


class QueueBusy(Exception):
    """Another worker holds this queue and will process our event; the task checks back soon
    in case that worker dies first."""


class Deferred(Exception):
    """Not now, and not a failure: try again after `retry_after` seconds (quota, a peer).
    `ref`: the event that waits, when it is not the task's own (the head of its ordered queue,
    which the runner names), so only that one is woken, once."""

    ref: str | None = None
    scheduled = False   # its wake-up is already scheduled (a reserved slot): no other needed
    # Something else wakes it when its wait ends (a bulk job's answer, E6): it waits parked in
    # `zkb:due`, never as a Celery countdown (workers/retry_policy.park_for).
    woken = False

    def __init__(self, retry_after: float, why: str) -> None:
        self.retry_after = retry_after
        super().__init__(retry_after, why)

    def __str__(self) -> str:
        return str(self.args[1])


class ReplyOutcomeUnknown(Permanent):
    """A send Klaviyo never answered, and Klaviyo did not answer the look-ups for it either: it
    is not sent again (A6). A replay settles it again first (sent -> done; Klaviyo answering
    and no trace of it -> sent once more), so it is replayable."""


class ConfigError(Exception):
    """Raised with every configuration problem found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("zkbridge cannot start; fix these settings:\n  - "
                         + "\n  - ".join(problems))


class FailedAttempt(Exception):
    """An event's attempt failed and it may be tried again: `cause` is what went wrong and
    `attempts` how many attempts of the event have failed so far, so the task's backoff grows
    with the event's failures, not with its Celery retries (most of those are waits for a
    budget or a busy queue)."""

    def __init__(self, cause: BaseException, attempts: int) -> None:
        self.cause, self.attempts = cause, attempts
        super().__init__(f"attempt {attempts} failed: {type(cause).__name__}: {cause}")


class CredentialsRefused(Deferred):
    """A vendor refused the bridge's own credentials (Zendesk OAuth answering `invalid_client`).
    No event is at fault, so none uses up its attempts: tasks wait `retry_after` seconds and ask
    again until an operator fixes the setting; `zkbridge check` and /ops say what to fix."""

    def __init__(self, api: str, message: str, retry_after: float = 60.0) -> None:
        self.api = api
        super().__init__(retry_after, message)
