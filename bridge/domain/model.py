"""Small frozen values the rules work on. No I/O, no clock: handlers build these from events
and upstream answers, and rules turn them into decisions (see `decisions.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridge.domain.brand_scope import DEFAULT as DEFAULT_BRAND
from bridge.domain.brand_scope import make_ref

OPEN_STATUSES = ("new", "open", "pending")


@dataclass(frozen=True)
class InboundSms:
    """A customer's text to a brand number (Klaviyo's `event:klaviyo.sent_sms`)."""

    event_id: str
    profile_id: str | None
    customer_phone: str | None   # E.164, None if neither the event nor the profile has one
    brand_number: str            # as received: E.164, short code digits, or a sender ID
    body: str
    media_count: int
    sent_at: datetime
    channel: str = "sms"         # "sms" or "whatsapp" (S9: Klaviyo's conversation channel)


@dataclass(frozen=True)
class Profile:
    """What the bridge needs of a Klaviyo profile."""

    id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    can_receive_sms: bool
    sms_consent: str | None = None   # "marketing", "transactional" or None (A9's context)
    # S9: "marketing", "transactional", "conversational" or None. A default, so profiles cached
    # before WhatsApp existed load (as not consented to WhatsApp).
    whatsapp_consent: str | None = None

    def can_receive(self, channel: str) -> bool:
        """S1/A4 per channel: SMS consent for texts, WhatsApp consent for WhatsApp (S9)."""
        return self.whatsapp_consent is not None if channel == WHATSAPP else self.can_receive_sms

    @property
    def display_name(self) -> str | None:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or None


@dataclass(frozen=True)
class Conversation:
    """Cached state of one (customer phone, brand number) conversation.

    A cache: Redis may lose it, and `recover` rebuilds it from Zendesk (ticket external_id).
    """

    phone: str
    brand_number: str
    ticket_id: int | None = None
    ticket_status: str | None = None
    requester_id: int | None = None
    profile_id: str | None = None              # Klaviyo profile
    klaviyo_conversation_id: str | None = None
    solved_at: float | None = None             # when the ticket was solved, if known (S11)

    @property
    def external_id(self) -> str:
        return conversation_external_id(self.phone, self.brand_number)


EXTERNAL_ID_PREFIX = "zkb-sms:"
WHATSAPP_EXTERNAL_ID_PREFIX = "zkb-wa:"   # S9
SMS, WHATSAPP = "sms", "whatsapp"
# S9: a WhatsApp conversation is (customer phone, "wa:" + brand number) wherever a conversation
# is keyed (Redis keys, queues, the ticket map), so it never meets the customer's SMS
# conversation with the same number. An SMS conversation's brand stays the bare number: keys and
# ticket external_ids written before WhatsApp existed are read as they are.
WHATSAPP_BRAND_PREFIX = "wa:"


def conversation_brand(channel: str, brand_number: str) -> str:
    """The brand part of a conversation's identity on `channel` (S9)."""
    return WHATSAPP_BRAND_PREFIX + brand_number if channel == WHATSAPP else brand_number


def channel_of(brand: str) -> str:
    """The channel of a conversation, from the brand part of its identity."""
    return WHATSAPP if brand.startswith(WHATSAPP_BRAND_PREFIX) else SMS


def brand_number_of(brand: str) -> str:
    """The brand number itself, without the channel."""
    return brand.removeprefix(WHATSAPP_BRAND_PREFIX)


def conversation_external_id(phone: str, brand_number: str) -> str:
    """The ticket external_id that ties a Zendesk ticket to its conversation: `zkb-sms:` as
    ever for SMS, `zkb-wa:<phone>:<number>` for WhatsApp (S9)."""
    if channel_of(brand_number) == WHATSAPP:
        return f"{WHATSAPP_EXTERNAL_ID_PREFIX}{phone}:{brand_number_of(brand_number)}"
    return f"{EXTERNAL_ID_PREFIX}{phone}:{brand_number}"


def parse_external_id(value: str | None) -> tuple[str, str] | None:
    """Inverse of `conversation_external_id`; None for tickets that are not ours."""
    for prefix, channel in ((EXTERNAL_ID_PREFIX, SMS), (WHATSAPP_EXTERNAL_ID_PREFIX, WHATSAPP)):
        if value and value.startswith(prefix):
            phone, sep, brand = value[len(prefix):].partition(":")
            return (phone, conversation_brand(channel, brand)) if sep and phone and brand \
                else None
    return None


def requester_external_id(phone: str) -> str:
    """Zendesk user external_id for a phone-only customer (users never match by phone)."""
    return f"sms:{phone}"


@dataclass(frozen=True)
class Ticket:
    id: int
    status: str
    external_id: str | None = None
    doc: dict[str, Any] | None = field(default=None, compare=False, repr=False)  # as answered


@dataclass(frozen=True)
class Comment:
    id: int
    author_id: int | None
    body: str
    public: bool


@dataclass(frozen=True)
class RawEvent:
    source: str       # "klaviyo" | "zendesk"
    id: str
    kind: str         # Klaviyo topic or Zendesk event type
    data: dict[str, Any]
    brand: str = DEFAULT_BRAND   # the brand whose webhook route it came in on (E7)

    @property
    def ref(self) -> str:
        """What a task carries: source, brand when not the default, id; nothing personal (E5)."""
        return make_ref(self.source, self.id, self.brand)


@dataclass(frozen=True)
class Budget:
    """A named budget: at most `limit` calls in any `seconds`, for each (limit, seconds)."""

    name: str
    windows: tuple[tuple[int, float], ...]

    @classmethod
    def per_minute(cls, name: str, per_minute: int, per_second: int | None = None) -> Budget:
        """A vendor's published limits, one call kept in hand on the minute window."""
        windows: list[tuple[int, float]] = [(max(1, per_minute - 1), 60.0)]
        if per_second:
            windows.insert(0, (per_second, 1.0))
        return cls(name, tuple(windows))
