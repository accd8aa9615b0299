"""Inbound SMS rules S1-S6, S10, S11 as pure functions: no Redis, no HTTP, no clock, no env.

Handlers load state, call these, and apply what they return. Everything a rule needs comes in
as arguments (`Policy` carries the brand's settings), so the rules are tested in milliseconds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bridge.domain.decisions import AddComment, CreateTicket, Drop, InboundDecision
from bridge.domain.model import WHATSAPP, Conversation, InboundSms, Profile
from bridge.domain.opt_out import OPT_OUT_REQUEST_TAG, opt_out_phrase, phrase_list
from bridge.domain.phones import brand_number_kind, mask
from bridge.domain.reply_rules import NOTE_PREFIX

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
                           "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES", "Y", "JOIN"})
HELP_WORDS = frozenset({"HELP", "INFO"})
# US carriers require STOP to work anywhere in a text, even in exact-match mode.
ALWAYS_CONTAINS = frozenset({"STOP"})
RECEIVING_KINDS = frozenset({"toll_free", "long_code", "short_code"})
_WORD = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class Policy:
    """The brand's settings that shape the rules (from `Settings`)."""

    sync_enabled: bool = True
    custom_keywords: frozenset[str] = frozenset()
    opt_out_match: str = "contains"          # contains | exact
    subject_template: str = "SMS from {masked_phone}"
    opt_out_phrases: tuple[str, ...] = phrase_list(None)   # S10, normalised; () = off
    solved_reopen_hours: float | None = None  # S11; None: a solved ticket is always reopened


def keyword_kind(body: str, policy: Policy) -> str | None:
    """'opt_out', 'opt_in', 'custom', 'help' or None for an ordinary text (rule S2).

    Case, surrounding spaces and trailing punctuation are ignored. Opt-out words match as a
    whole word anywhere in "contains" mode (Klaviyo's default), otherwise the whole text.
    """
    text = _without_trailing_punctuation(body.strip()).upper()
    if not text:
        return None
    if text in HELP_WORDS:
        return "help"
    words = set(_WORD.findall(text))
    contains_words = OPT_OUT_WORDS if policy.opt_out_match == "contains" else ALWAYS_CONTAINS
    if text in OPT_OUT_WORDS or words & contains_words:
        return "opt_out"
    if text in OPT_IN_WORDS:
        return "opt_in"
    if text in policy.custom_keywords:
        return "custom"
    return None


def _without_trailing_punctuation(text: str) -> str:
    """Drop trailing spaces and Unicode punctuation (category P*: also the "…", "”", "’" and
    "。" that phone keyboards put in on their own)."""
    end = len(text)
    while end and (text[end - 1].isspace() or unicodedata.category(text[end - 1])[0] == "P"):
        end -= 1
    return text[:end]


def screen(sms: InboundSms, policy: Policy) -> Drop | None:
    """Reasons to drop a text before any upstream call (sync off, S3 numbers, S2 keywords).
    A text without a usable From Number is not dropped here: the profile's phone may serve."""
    if not policy.sync_enabled:
        return Drop("sync_disabled")
    kind = brand_number_kind(sms.brand_number)
    if kind == "branded":
        return Drop("branded_sender")
    if kind not in RECEIVING_KINDS:
        return Drop("invalid_brand_number")
    keyword = keyword_kind(sms.body, policy) if sms.media_count == 0 or sms.body.strip() else None
    if keyword in ("opt_out", "opt_in", "custom"):
        return Drop(f"keyword_{keyword}")
    return None


def check_consent(profile: Profile | None, channel: str = "sms") -> Drop | None:
    """S1: only a profile that can receive messages on the channel reaches Zendesk (SMS
    consent for a text, WhatsApp consent for a WhatsApp message, S9)."""
    if profile is None or not profile.can_receive(channel):
        return Drop("not_consented")
    return None


def decide_inbound(conversation: Conversation, now: float | None = None,
                   solved_reopen_hours: float | None = None) -> InboundDecision:
    """S4 threading: what a new text does to the conversation's current ticket.

    S11: with `solved_reopen_hours`, a ticket solved longer ago than that (at `now`) is left
    solved and the text opens a new ticket that follows it. When the solved time is unknown
    (the bridge missed the webhook, or the cache was rebuilt) the ticket is reopened, as
    Klaviyo's own rule does: a guess never splits a conversation.
    """
    status = (conversation.ticket_status or "").lower()
    if conversation.ticket_id is None:
        return CreateTicket()
    if status == "closed":
        return CreateTicket(followup_of=conversation.ticket_id)
    if status == "deleted":
        return CreateTicket()
    if status == "hold":
        return AddComment(conversation.ticket_id, status=None)
    if status == "solved" and solved_too_long_ago(conversation.solved_at, now,
                                                  solved_reopen_hours):
        return CreateTicket(follows_solved=conversation.ticket_id)
    return AddComment(conversation.ticket_id, status="open")


def solved_too_long_ago(solved_at: float | None, now: float | None,
                        hours: float | None) -> bool:
    """S11: True only when every figure is known and the window has passed."""
    if solved_at is None or now is None or hours is None:
        return False
    return now - solved_at > hours * 3600


def opt_out_request(sms: InboundSms, policy: Policy) -> bool:
    """S10: does the text ask to stop in plain words (a keyword never gets this far)?"""
    return opt_out_phrase(sms.body, policy.opt_out_phrases) is not None


def comment_body(sms: InboundSms) -> str:
    """S6: the text as it goes into Zendesk, with a note when media was not carried over."""
    text = sms.body.strip()
    if sms.media_count == 0:
        # Zendesk rejects a blank comment (422); an empty text still shows up in the ticket.
        return text or "[The customer sent an empty message.]"
    noun = "attachment" if sms.media_count == 1 else "attachments"
    note = (f"[The customer sent {sms.media_count} picture/media {noun}; "
            "MMS media is not carried over to Zendesk.]")
    return f"{text}\n\n{note}" if text else note


SUBJECT_FIELDS = ("masked_phone", "brand_number", "name", "first_words")
FIRST_WORDS = 6            # words of the text in `{first_words}`
FIRST_WORDS_CHARS = 40     # and at most this many characters


def ticket_subject(sms: InboundSms, policy: Policy, name: str | None = None) -> str:
    """S5 subject line; the phone is masked because subjects show up in notifications.
    `{name}` is the profile's name (else the masked phone); `{first_words}` the start of the
    text, so a view of SMS tickets is not a wall of identical subjects."""
    masked = mask(sms.customer_phone)
    subject = policy.subject_template.format(masked_phone=masked, brand_number=sms.brand_number,
                                             name=name or masked, first_words=first_words(sms))
    if sms.channel == WHATSAPP and subject.startswith("SMS "):
        subject = "WhatsApp " + subject[4:]     # S9: "WhatsApp from ..." (same template)
    return subject


def first_words(sms: InboundSms) -> str:
    """The text's first words on one line, cut at a word with "…" when longer."""
    words = sms.body.split()
    if not words:
        return "(picture)" if sms.media_count else "(empty text)"
    text = " ".join(words[:FIRST_WORDS])
    if len(text) > FIRST_WORDS_CHARS:
        text = text[:FIRST_WORDS_CHARS].rsplit(" ", 1)[0] or text[:FIRST_WORDS_CHARS]
    return text + ("…" if text != " ".join(words) else "")


def status_after_comment(decision: AddComment, previous: str | None) -> str | None:
    """The status the cache should hold after applying `decision`."""
    return decision.status or previous


def follows_solved_note(solved_ticket_id: int) -> str:
    """S11: why a text opened this ticket rather than reopening the conversation's last one.
    Zendesk links follow-ups only to closed tickets, so the link is this note."""
    return NOTE_PREFIX + (f"This text follows up ticket #{solved_ticket_id}, which was solved "
                          "longer ago than SOLVED_REOPEN_HOURS allows reopening, so it opened "
                          "this new ticket instead (rule S11).")


def opt_out_note() -> str:
    """S2: what the agent reads on the customer's not-closed SMS ticket after an opt-out (the
    keyword itself never becomes a comment)."""
    return NOTE_PREFIX + ("The customer texted an opt-out keyword and is unsubscribed from SMS "
                          "in Klaviyo: replies on this ticket will not reach them by SMS "
                          "(rules S2, A4). Reach them another way.")


def opt_out_request_note() -> str:
    """S10: what the agent reads on a ticket whose customer asked in words to stop. The same
    text every time, so a re-run recognises a note whose answer was lost (notes.py)."""
    return NOTE_PREFIX + (
        "The customer's text reads like a request to stop messages, in words Klaviyo does not "
        f"treat as an opt-out keyword. The ticket is tagged {OPT_OUT_REQUEST_TAG} and replies "
        "on it are held, not sent by SMS, until you either unsubscribe the customer from SMS "
        f"in Klaviyo or remove the {OPT_OUT_REQUEST_TAG} tag (if they did not mean it) (rule "
        "S10).")
