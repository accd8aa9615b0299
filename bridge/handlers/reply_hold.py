"""Holding agent replies (A8 quiet hours, S10 opt-out requests) and releasing them.

A held reply waits in Redis, never in a worker: its event ref is parked in `zkb:due` (the due
time: the end of the customer's quiet window, or the next re-check of an opt-out request) and
beat's `bridge.release_due` publishes it then (workers/release.py). So a hold of ten hours is
no Celery countdown, survives worker restarts, and costs no attempt (the runner passes a
`Deferred` through without counting it, E2). The reply is the head of its ticket's queue
(`reply|<ticket>`), so the replies written after it wait behind it and go out in comment order.

When a reply is held the agent gets one internal note saying why and until when (one per reply
and reason, `notes.delivery_note`).

What the hold is decided on: the ticket's tags in the comment's own event (`detail.tags`) and
the customer's clock. Only when those say "hold", or the reply was held before, does the bridge
read the ticket's current tags (one Zendesk GET): an agent may have added `sms_send_now` or
removed `sms_optout_request` since, or a texted opt-out request may have tagged the ticket
during the night. The normal path (nothing to hold) costs no call. Before reading, the event is
marked as held, so a tags change that lands meanwhile finds it (`release`).

A tags change (`ticket.tags_changed`) that ends the hold of its ticket's held reply
(`sms_send_now` added; `sms_optout_request` removed) brings the parked ref's due time forward
to now; the re-run reads the tags again and sends. An opt-out hold is also re-checked every
OPT_OUT_RECHECK seconds (a missed webhook, or the customer unsubscribed in Klaviyo: then the
reply takes A4's "not consented" path).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from bridge.domain import quiet_hours, reply_holds, whatsapp
from bridge.domain.model import WHATSAPP, channel_of
from bridge.domain.quiet_hours import QuietHours
from bridge.domain.reply_holds import OPT_OUT_REQUEST, Hold
from bridge.domain.reply_rules import AgentComment
from bridge.errors import Deferred
from bridge.handlers.notes import delivery_note
from bridge.handlers.runner import Done, Runner
from bridge.payloads.zendesk_events import reply_queue, ticket_id, ticket_tags
from bridge.ports import SmsApi, StorePort, TicketApi

KIND = "agent_reply"
OPT_OUT_RECHECK = 15 * 60.0    # S10: how often a held opt-out request is looked at again


@dataclass(frozen=True)
class HoldPolicy:
    """`QUIET_HOURS` / `QUIET_HOURS_TZ` (None: no quiet hours), the S10 re-check period (also
    S9's) and `WHATSAPP_TEMPLATE_FLOW_METRIC` (None: no template flow, S9)."""

    quiet: QuietHours | None = None
    opt_out_recheck: float = OPT_OUT_RECHECK
    template_metric: str | None = None


@dataclass(frozen=True)
class Holding:
    store: StorePort
    zendesk: TicketApi
    klaviyo: SmsApi
    policy: HoldPolicy
    clock: Callable[[], float]


def hold_if_due(ref: str, event: dict[str, Any], comment: AgentComment, phone: str,
                h: Holding, brand: str = "") -> str:
    """Return how the reply may go now ("free_form", or "template" for a WhatsApp reply the
    agent asked to send as a template, S9); raise `Deferred` (its ref parked until the hold's
    end) when it must wait. `brand` is the conversation's (its channel: WhatsApp's window)."""
    now = h.clock()
    closed = _window_closed(event, phone, brand, now, h)
    held_before = event.get("hold")
    tags = ticket_tags(event["data"]) or frozenset()
    hold = _decide(tags, phone, now, h.policy, closed)
    if hold is None and not held_before:
        return whatsapp.send_mode(closed, tags, h.policy.template_metric)
    if hold is not None and not held_before:
        h.store.events.update_event(ref, hold=hold.reason)
    tags = _current_tags(comment.ticket_id, h)
    hold = _decide(tags, phone, now, h.policy, closed)
    if hold is None:
        return whatsapp.send_mode(closed, tags, h.policy.template_metric)
    if hold.reason == OPT_OUT_REQUEST and not _accepts(phone, channel_of(brand), h.klaviyo):
        return "free_form"          # unsubscribed in Klaviyo: A4 leaves its note instead
    _park(ref, comment, hold, held_before, phone, h)


def hold_refused(ref: str, event: dict[str, Any], comment: AgentComment, h: Holding) -> None:
    """S9: Klaviyo refused the send as outside WhatsApp's window (the bridge's record of the
    customer's last message said open, or had none): remember when, so the window counts as
    closed until the customer writes again, and hold the reply as if the bridge had known."""
    now = h.clock()
    h.store.events.update_event(ref, window_refused_at=now)
    hold = Hold(reply_holds.WHATSAPP_WINDOW, now + h.policy.opt_out_recheck)
    _park(ref, comment, hold, event.get("hold"), "", h)


def _park(ref: str, comment: AgentComment, hold: Hold, held_before: Any, phone: str,
          h: Holding) -> NoReturn:
    h.store.events.update_event(ref, hold=hold.reason)
    h.store.due.park(ref, hold.until)        # first: its wake-up exists whatever happens next
    delivery_note(comment.ticket_id, comment.comment_id, hold.reason, _note(hold, phone, h),
                  h.store, h.zendesk, h.clock)
    if held_before != hold.reason:
        h.store.outcomes.count(KIND, "held", hold.reason)
    deferred = Deferred(max(hold.until - h.clock(), 1.0), f"reply held: {hold.reason}")
    deferred.scheduled = True       # parked above: the task layer adds no countdown
    raise deferred


def _window_closed(event: dict[str, Any], phone: str, brand: str, now: float,
                   h: Holding) -> bool:
    """S9: is this a WhatsApp conversation whose 24-hour window has closed? (Redis only.)"""
    if channel_of(brand) != WHATSAPP:
        return False
    refused = event.get("window_refused_at")
    return whatsapp.WindowState(h.store.conversations.last_customer_message(phone, brand), now,
                                float(refused) if refused else None).closed


def wake_window_hold(ticket: int, store: StorePort, now: float) -> None:
    """S9: the customer wrote again, so a reply held on their ticket for the closed window may
    go now: bring its wake-up forward (Redis only; the re-run decides again)."""
    head = store.queues.head(reply_queue(ticket))
    if head is None:
        return
    ref = head.split("|", 1)[1]
    if store.events.event_fields([ref], "hold")[0].get("hold") == reply_holds.WHATSAPP_WINDOW:
        store.due.park(ref, now)


def _decide(tags: frozenset[str], phone: str, now: float, policy: HoldPolicy,
            window_closed: bool = False) -> Hold | None:
    quiet_until = quiet_hours.window_end(phone, now, policy.quiet) if policy.quiet else None
    hold_for_window = whatsapp.send_mode(window_closed, tags, policy.template_metric) == "hold"
    return reply_holds.decide_hold(tags, now=now, quiet_until=quiet_until,
                                   opt_out_recheck=policy.opt_out_recheck,
                                   window_closed=hold_for_window)


def _current_tags(ticket: int, h: Holding) -> frozenset[str]:
    """The ticket's tags as they are now: one GET, only for replies that are (or were) held."""
    found, _, _ = h.zendesk.ticket_with_people(ticket)
    return frozenset(str(t).lower() for t in found.get("tags") or [])


def _accepts(phone: str, channel: str, klaviyo: SmsApi) -> bool:
    profile = klaviyo.find_profile_by_phone(phone)
    return profile is not None and profile.can_receive(channel)


def _note(hold: Hold, phone: str, h: Holding) -> str:
    if hold.reason == reply_holds.WHATSAPP_WINDOW:
        return whatsapp.window_note(h.policy.template_metric)
    if hold.reason == OPT_OUT_REQUEST or h.policy.quiet is None:
        return reply_holds.opt_out_hold_note()
    zone = quiet_hours.customer_zone(phone, h.policy.quiet.fallback_zone)
    return reply_holds.quiet_hours_note(quiet_hours.local_time(hold.until, zone),
                                        h.policy.quiet.text)


# --- releasing: a tags change on the ticket ---------------------------------------------------
def release_runner(store: StorePort, clock: Callable[[], float], max_attempts: int) -> Runner:
    """`ticket.tags_changed` events, each on its own (no queue: a release is idempotent)."""
    return Runner(store=store, kind="zendesk_event", source="zendesk",
                  task="bridge.zendesk_event", max_attempts=max_attempts, clock=clock,
                  process=lambda _ref, event: release(event["data"], store, clock()))


def release(data: dict[str, Any], store: StorePort, now: float) -> Done:
    """If the ticket's held reply (its reply queue's head) is freed by the ticket's tags after
    this change, bring its wake-up forward to now. Redis only: no vendor call."""
    tid = ticket_id(data)
    if tid is None:
        return Done("dropped", "malformed_event", {"type": "tags_changed"})
    head = store.queues.head(reply_queue(tid))
    if head is None:
        return Done("dropped", "nothing_held", {"ticket_id": tid})
    ref = head.split("|", 1)[1]
    reason = store.events.event_fields([ref], "hold")[0].get("hold")
    if not reason:
        return Done("dropped", "nothing_held", {"ticket_id": tid})
    if not reply_holds.released_by(reason, ticket_tags(data)):
        return Done("dropped", "still_held", {"ticket_id": tid, "hold": reason})
    store.due.park(ref, now)
    return Done("applied", "released", {"ticket_id": tid, "hold": reason})
