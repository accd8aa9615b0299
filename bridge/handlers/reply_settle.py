"""A6 exactly once: settling a reply whose send Klaviyo never answered.

A send that timed out after reaching Klaviyo (`Retryable` with `maybe_applied`), or a "sending"
record a dead worker left behind, may or may not be on the customer's phone. For
`REPLY_CONFIRM_SECONDS` after the send the bridge looks for evidence that it went out:

- the `received_sms` echo of that conversation message (the webhook handler records it in the
  ledger by phone and text: `campaign_note.process_delivered`), and
- a `Received SMS` event with that text on the customer's profile since the send
  (`GET /api/events`, filtered on profile, metric and datetime).

Found: it was sent. Both look-ups answered and nothing found once the window has passed: it was
not sent, send it once more ([assumed]: Klaviyo records a sent reply within the window; the
README names the risk). The events look-up failing LATE_LOOKUPS times in a row once the window
has passed (Klaviyo unreachable, about 40 s more at the default window): the bridge cannot
tell, so it does not send twice (`Verdict.UNKNOWN`); the handler leaves a note and sets the
reply aside in failed jobs, and a replay settles it again.

Each look-up round is one task run: between rounds the task waits with a short `Deferred`
(CHECK_EVERY seconds, far below the broker's safe countdown), costing no attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from bridge.errors import Deferred, RateLimited, Retryable
from bridge.ports import LedgerPort, SmsApi

CHECK_EVERY = 20.0      # seconds between look-up rounds while the window is open
CLOCK_SKEW = 5.0        # Klaviyo's event times may be this much behind ours
LATE_LOOKUPS = 3        # failed look-ups after the window before the bridge says it cannot tell


class Verdict(Enum):
    SENT = "sent"           # evidence found: it reached the customer
    NOT_SENT = "not_sent"   # both look-ups answered to the window's end, nothing: send again
    UNKNOWN = "unknown"     # Klaviyo did not answer after the window: do not send twice


@dataclass(frozen=True)
class Settling:
    ledger: LedgerPort
    klaviyo: SmsApi
    window: float
    clock: Callable[[], float]
    metric: str = "Received SMS"     # `Received WhatsApp Message` [assumed] for WhatsApp (S9)


def settle(comment_id: int, text: str, phone: str, record: dict[str, Any],
           s: Settling) -> Verdict:
    """One look-up round for the reply `comment_id` whose send began at `record["at"]`.
    Raises `Deferred` while the window is open and nothing is found yet."""
    at = float(record.get("at") or 0)
    if s.ledger.echoed_since(phone, text, at):
        return Verdict.SENT
    bodies = _received_since(record.get("profile_id"), at - CLOCK_SKEW, s.klaviyo, s.metric)
    if bodies is not None and any(b.strip() == text.strip() for b in bodies):
        return Verdict.SENT
    now = s.clock()
    if now < at + s.window:
        s.ledger.update_reply(comment_id, {**record, "unanswered": True})
        raise Deferred(min(CHECK_EVERY, at + s.window - now) + 0.5,
                       "looking for evidence that an unanswered reply went out (A6)")
    if bodies is not None:
        return Verdict.NOT_SENT
    late = int(record.get("late_failures") or 0) + 1     # the window is over, Klaviyo silent
    if late >= LATE_LOOKUPS:
        return Verdict.UNKNOWN
    s.ledger.update_reply(comment_id, {**record, "unanswered": True, "late_failures": late})
    raise Deferred(max(1.0, min(CHECK_EVERY, s.window / 6)),
                   "Klaviyo did not answer the look-up for an unanswered reply; asking again")


def _received_since(profile_id: str | None, since: float, klaviyo: SmsApi,
                    metric: str) -> list[str] | None:
    """Bodies of the profile's `Received SMS` events since `since`; None if Klaviyo did not
    answer (or the record is too old to name the profile)."""
    if not profile_id:
        return None
    try:
        if metric == "Received SMS":     # the port's default: fakes and older adapters
            return klaviyo.received_sms_since(profile_id, since)
        return klaviyo.received_sms_since(profile_id, since, metric)
    except RateLimited:
        raise                 # our budget or a 429: wait, as for any call (not a failure)
    except Retryable:
        return None
