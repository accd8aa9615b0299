"""Rule S9 (WhatsApp) where it differs from SMS: consent, the ticket's tag, and Meta's 24-hour
customer-service window for free-form replies. Pure: the handlers pass in the times they know.

Meta lets a business send free-form messages only within 24 hours of the customer's last
message [doc, Meta]; after that, only an approved template. So a reply written later is not
sent as written: it is held (reply_holds), one internal note says why, and it goes out if the
customer writes again (the window reopens). When the brand has a Klaviyo flow that sends an
approved template (WHATSAPP_TEMPLATE_FLOW_METRIC), the agent adds the tag
`whatsapp_send_template` and the bridge records that metric instead (the flow sends the
template; the reply text rides along as an event property).
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.domain.model import WHATSAPP
from bridge.domain.reply_holds import SEND_TEMPLATE_TAG, WHATSAPP_WINDOW
from bridge.domain.reply_rules import NOTE_PREFIX

WINDOW_SECONDS = 24 * 3600          # Meta's customer-service window [doc, Meta]
TICKET_TAG = WHATSAPP                # a WhatsApp ticket's tag, instead of `sms`
WINDOW_CLOSED = WHATSAPP_WINDOW      # the hold's reason, counted with the other holds
__all__ = ["SEND_TEMPLATE_TAG", "WINDOW_CLOSED", "WindowState", "send_mode", "window_note"]
CONSENT_KINDS = ("marketing", "transactional", "conversational")


@dataclass(frozen=True)
class WindowState:
    """What the bridge knows of a WhatsApp conversation when a reply is about to go out."""

    last_customer_at: float | None   # the customer's last message the bridge applied
    at: float                        # the moment of the decision (the caller's clock)
    refused_at: float | None = None  # when Klaviyo last refused a send as outside the window

    @property
    def closed(self) -> bool:
        """Closed when the last message is known and more than 24 h old, or when Klaviyo
        refused a send and the customer has not written since. An unknown time (a lost cache)
        is taken as open: Klaviyo's refusal then closes it (whatsapp_reply)."""
        last = self.last_customer_at
        if self.refused_at is not None and (last is None or last < self.refused_at):
            return True
        return last is not None and self.at - last > WINDOW_SECONDS


def send_mode(window_closed: bool, tags: frozenset[str], template_metric: str | None) -> str:
    """"free_form" (send the text in the conversation), "template" (record the template flow's
    metric: the window is closed, a flow is configured and the agent asked for it) or "hold"."""
    if not window_closed:
        return "free_form"
    if template_metric and SEND_TEMPLATE_TAG in tags:
        return "template"
    return "hold"


def whatsapp_consent(subscriptions: dict[str, object]) -> str | None:
    """The first WhatsApp consent kind the profile holds (`subscriptions.whatsapp.<kind>`, each
    `{"consent": "SUBSCRIBED", "can_receive": true, ...}` [doc]): `can_receive` when given,
    else the consent. None when it holds none."""
    for kind in CONSENT_KINDS:
        entry = subscriptions.get(kind)
        if not isinstance(entry, dict):
            continue
        can = entry.get("can_receive")
        if can is True or can is None and str(entry.get("consent") or "").upper() == "SUBSCRIBED":
            return kind
    return None


def window_note(template_metric: str | None) -> str:
    """The one note on a reply held outside the window (the same text every time, so a re-run
    recognises it)."""
    way = (f"To send it now as an approved template message (Klaviyo flow triggered by the "
           f"metric '{template_metric}'), add the tag {SEND_TEMPLATE_TAG} to this ticket."
           if template_metric else
           "No template flow is configured (WHATSAPP_TEMPLATE_FLOW_METRIC), so reach them "
           "another way if it cannot wait.")
    return NOTE_PREFIX + ("This reply was not sent on WhatsApp: the customer's last message is "
                          "more than 24 hours old, and WhatsApp allows free-form replies only "
                          "within 24 hours of it (rule S9). It is held and goes out if the "
                          f"customer writes again. {way}")


def template_sent_note(template_metric: str) -> str:
    return NOTE_PREFIX + (f"This reply was handed to the Klaviyo flow triggered by "
                          f"'{template_metric}' (an approved WhatsApp template), because the "
                          "24-hour window for free-form replies had closed (rule S9).")
