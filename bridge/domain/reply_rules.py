"""Agent-reply rules A1-A5 as pure functions over small values; handlers apply the decisions.

The echo guard (A2) deliberately uses several independent signals, because any one of them can
be wrong in a real account: the conversation map (is this an SMS ticket at all?), the bridge's
ledger of comment ids it wrote, the author being the ticket's requester, and `is_staff`
(which is true for a texting customer who is also an agent, rule A3's case).
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.domain.decisions import Drop
from bridge.domain.model import SMS, WHATSAPP, Profile


@dataclass(frozen=True)
class AgentComment:
    """A `ticket.comment_added` event, as the rules need it."""

    ticket_id: int
    comment_id: int
    author_id: int | None
    author_is_staff: bool
    public: bool
    text: str                 # plain text (A5), already derived from the HTML
    body: str                 # the plain body as Zendesk gave it (compared with what we posted)
    attachment_count: int
    requester_id: int | None


@dataclass(frozen=True)
class SendReply:
    """Send `text`; if `note` is set, also leave it as an internal note (e.g. attachments)."""

    text: str
    note: str | None = None


@dataclass(frozen=True)
class NoteInstead:
    """Do not send; leave `note` on the ticket so the agent knows why (A3, A4)."""

    reason: str
    note: str


ReplyDecision = Drop | SendReply | NoteInstead

NOTE_PREFIX = "[zkbridge] "


def screen_comment(c: AgentComment, *, sms_ticket: bool, written_by_bridge: bool) -> Drop | None:
    """A1/A2: only public staff comments on SMS tickets, never the bridge's own.

    A staff author who is also the requester (an agent texting from their own phone) is not
    dropped here: their typed replies reach A3, which leaves a note; the texts the bridge
    posted for them are caught by `written_by_bridge`.
    """
    if not sms_ticket:
        return Drop("not_sms_ticket")
    if written_by_bridge:
        return Drop("own_comment")
    return prescreen(c) or (Drop("empty_comment")
                            if not c.text.strip() and c.attachment_count == 0 else None)


def prescreen(c: AgentComment) -> Drop | None:
    """A1/A2 from the comment alone: an internal note, or a comment whose author is not staff,
    is never sent. The receiver drops these before any task (E6): every customer text the
    bridge writes to a ticket comes back as one."""
    if not c.public:
        return Drop("internal_note")
    if not c.author_is_staff:
        requester = c.author_id is not None and c.author_id == c.requester_id
        return Drop("customer_comment" if requester else "not_staff")
    return None


def decide_reply(c: AgentComment, *, agent_email: str | None,
                 profile: Profile | None, channel: str = SMS) -> SendReply | NoteInstead:
    """A3 same email, A4 consent at send time (on the conversation's channel, S9) and
    attachments."""
    if agent_email and profile and profile.email and \
            agent_email.strip().casefold() == profile.email.strip().casefold():
        return NoteInstead("same_email", NOTE_PREFIX + (
            "This reply was not sent as an SMS: your Zendesk email is the email on the "
            "customer's Klaviyo profile, so it would be a text to yourself (rule A3). "
            "Reply from another agent account to reach the customer."))
    if channel == WHATSAPP and (profile is None or not profile.can_receive(WHATSAPP)):
        return NoteInstead("not_consented", NOTE_PREFIX + (
            "This reply was not sent on WhatsApp: the customer does not accept WhatsApp "
            "messages from us in Klaviyo (opted out or never subscribed). Reach them another "
            "way (rules S9, A4)."))
    if channel != WHATSAPP and (profile is None or not profile.can_receive_sms):
        return NoteInstead("not_consented", NOTE_PREFIX + (
            "This reply was not sent as an SMS: the customer no longer accepts SMS from us in "
            "Klaviyo (opted out or never subscribed). Reach them another way (rule A4)."))
    if not c.text.strip():
        return NoteInstead("attachment_only", NOTE_PREFIX + (
            f"This reply was not sent as an SMS: it has only {_files(c.attachment_count)}, "
            "and attachments cannot be sent by SMS (rule A4). Add text to reply by SMS."))
    return SendReply(c.text, attachments_note(c.attachment_count) if c.attachment_count else None)


def attachments_note(count: int) -> str:
    return NOTE_PREFIX + (f"The text of this reply was sent as an SMS; its {_files(count)} "
                          "could not be sent (no MMS).")


def outcome_unknown_note() -> str:
    """A6: the bridge cannot tell whether a reply reached the customer and will not send it
    twice; the agent (or an operator) decides."""
    return NOTE_PREFIX + ("This reply may not have reached the customer: Klaviyo did not answer "
                          "when it was sent, nor afterwards when the bridge looked for it, and "
                          "the bridge never sends a reply twice (rule A6). Replay it from the "
                          "ops page (it checks again first), or check the conversation in "
                          "Klaviyo's inbox and resend it if it is not there.")


def failed_note(why: str) -> str:
    """A reply Klaviyo refused for good (e.g. the customer has no SMS conversation)."""
    return NOTE_PREFIX + (f"This reply was not sent as an SMS: {why}. Retrying cannot help; "
                          "reach the customer another way, or fix the cause in Klaviyo and "
                          "replay it from the ops page.")


def campaign_note(campaign: str | None, flow: str | None, text: str) -> str | None:
    """A7: what the agent should see of a marketing SMS; None for conversation replies."""
    if campaign:
        return f"Klaviyo campaign '{campaign}' sent: {text}"
    if flow:
        return f"Klaviyo flow '{flow}' sent: {text}"
    return None


def _files(n: int) -> str:
    return "1 attachment" if n == 1 else f"{n} attachments"
