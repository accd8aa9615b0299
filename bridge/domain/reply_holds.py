"""Rules A8 (quiet hours) and S10 (a customer's request to stop, in words): when an agent's
reply is held instead of sent, what releases it, and the notes that tell the agent. Pure; the
handler (handlers/reply_hold.py) reads the tags and the clock and applies the decisions.

Tags are Zendesk's (lower-case): `sms_send_now`, which an agent adds to send held replies at
once, and `sms_optout_request` (opt_out.py), which the inbound side adds (S10).
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.domain.opt_out import OPT_OUT_REQUEST_TAG
from bridge.domain.reply_rules import NOTE_PREFIX

SEND_NOW_TAG = "sms_send_now"     # A8: an agent's "send it anyway", on the ticket
QUIET_HOURS = "quiet_hours"
OPT_OUT_REQUEST = "opt_out_request"
WHATSAPP_WINDOW = "whatsapp_window"   # S9: the 24-hour window closed (domain/whatsapp.py)
SEND_TEMPLATE_TAG = "whatsapp_send_template"


@dataclass(frozen=True)
class Hold:
    """Do not send yet: look again at `until` (epoch seconds). `reason` is QUIET_HOURS (until
    the customer's window ends) or OPT_OUT_REQUEST (until an agent decides; `until` is only
    the next re-check)."""

    reason: str
    until: float


def decide_hold(tags: frozenset[str], *, now: float, quiet_until: float | None,
                opt_out_recheck: float, window_closed: bool = False) -> Hold | None:
    """S10 before S9 before A8: a customer who asked to stop is not texted, quiet hours or not,
    until an agent removes the request's tag (or unsubscribes them: then A4 decides). A
    WhatsApp reply outside the 24-hour window (`window_closed`: closed and no template asked
    for, whatsapp.send_mode) waits for the customer's next message, looked at again every
    `opt_out_recheck` too. `sms_send_now` lifts quiet hours only."""
    if OPT_OUT_REQUEST_TAG in tags:
        return Hold(OPT_OUT_REQUEST, now + opt_out_recheck)
    if window_closed:
        return Hold(WHATSAPP_WINDOW, now + opt_out_recheck)
    if quiet_until is not None and SEND_NOW_TAG not in tags:
        return Hold(QUIET_HOURS, quiet_until)
    return None


def released_by(reason: str, tags: frozenset[str] | None) -> bool:
    """Does a tags change (the ticket's tags after it; None: unknown) end a hold for `reason`?"""
    if tags is None:
        return True
    if reason == OPT_OUT_REQUEST:
        return OPT_OUT_REQUEST_TAG not in tags
    if reason == WHATSAPP_WINDOW:
        return SEND_TEMPLATE_TAG in tags      # the agent asks for the template flow (S9)
    return SEND_NOW_TAG in tags


def quiet_hours_note(when: str, window: str) -> str:
    """A8: `when` is the window's end on the customer's clock (quiet_hours.local_time)."""
    return NOTE_PREFIX + (f"This reply will be sent as an SMS at {when}, the customer's local "
                          f"time: it was written during quiet hours ({window}, rule A8). To "
                          f"send it now, add the tag {SEND_NOW_TAG} to this ticket.")


def opt_out_hold_note() -> str:
    """S10: the customer asked in words to stop; an agent decides."""
    return NOTE_PREFIX + ("This reply is held, not sent: the customer asked us to stop texting "
                          f"them (the ticket is tagged {OPT_OUT_REQUEST_TAG}, rule S10). If they "
                          "did, unsubscribe them in Klaviyo (the reply is then not sent); if "
                          f"not, remove the tag {OPT_OUT_REQUEST_TAG} and it is sent.")
