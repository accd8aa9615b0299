"""Klaviyo's account as the sandbox keeps it: profiles with SMS consent, conversations, events, SMS.

The API routes, the admin routes (a customer texting, a campaign going out) and the system
webhooks all change this one state, so the rules that must hold whichever door a change comes
through live here: keyword opt-out and opt-in, `unique_id` de-duplication, one SMS conversation
per profile, and event times that strictly increase (the bridge orders a customer's texts by
them). Nothing here speaks HTTP. Methods take `sb.lock` themselves (it is re-entrant).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sandbox import seed

if TYPE_CHECKING:
    from sandbox.klaviyo.webhook_api import SystemWebhook

CONSENTS = ("SUBSCRIBED", "UNSUBSCRIBED", "NEVER_SUBSCRIBED")
# Klaviyo's standard SMS keywords [doc]; REVOKE and OPTOUT are carrier-standard opt-outs.
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
                           "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES", "JOIN"})
SENT_SMS, RECEIVED_SMS = "Sent SMS", "Received SMS"  # the metrics behind the two webhook topics
# [assumed] WhatsApp's, named like SMS's from the profile's side (bridge: payloads/whatsapp.py)
SENT_WHATSAPP, RECEIVED_WHATSAPP = "Sent WhatsApp Message", "Received WhatsApp Message"
WHATSAPP = "whatsapp"
WINDOW_SECONDS = 24 * 3600     # Meta's customer-service window [doc, Meta]
E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_BASE62 = string.digits + string.ascii_letters
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_profile_id() -> str:
    """Klaviyo profile ids are 26-character ULIDs such as 01GDDKASAP8TKDDA2GRZDSVP4H."""
    return "01J" + "".join(secrets.choice(_CROCKFORD) for _ in range(23))


def metric_id(name: str) -> str:
    """Stable per metric name (Klaviyo metric ids are six letters/digits, e.g. `UMTLbD`)."""
    n = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    return "".join(_BASE62[(n >> (6 * i)) % 62] for i in range(6))


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass
class Profile:
    id: str
    phone_number: str | None
    email: str | None
    first_name: str | None = None
    last_name: str | None = None
    external_id: str | None = None
    sms_marketing: str = "NEVER_SUBSCRIBED"
    sms_transactional: str = "NEVER_SUBSCRIBED"
    marketing_consent_at: str | None = None      # when the current consent was given/withdrawn
    transactional_consent_at: str | None = None
    # WhatsApp consent (`subscriptions.whatsapp.<kind>` [doc]): kind -> consent
    whatsapp: dict[str, str] = field(default_factory=lambda: {
        "marketing": "NEVER_SUBSCRIBED", "transactional": "NEVER_SUBSCRIBED",
        "conversational": "NEVER_SUBSCRIBED"})
    created: str = ""
    updated: str = ""
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def can_receive_sms(self) -> bool:
        """Conversational replies need either kind of SMS consent [assumed]."""
        return "SUBSCRIBED" in (self.sms_marketing, self.sms_transactional)

    @property
    def can_receive_whatsapp(self) -> bool:
        """Any kind of WhatsApp consent lets the brand answer [assumed]."""
        return "SUBSCRIBED" in self.whatsapp.values()

    def as_admin_json(self) -> dict[str, Any]:
        return {"id": self.id, "phone_number": self.phone_number, "email": self.email,
                "first_name": self.first_name, "last_name": self.last_name,
                "external_id": self.external_id, "sms_marketing": self.sms_marketing,
                "sms_transactional": self.sms_transactional,
                "can_receive_sms": self.can_receive_sms,
                "whatsapp": dict(self.whatsapp),
                "can_receive_whatsapp": self.can_receive_whatsapp,
                "created": self.created, "updated": self.updated,
                "properties": dict(self.properties)}


@dataclass
class Conversation:
    """One conversation per profile and channel (`sms`, `whatsapp`) [assumed]; it remembers the
    brand number the customer last wrote to, and replies go out on it. A WhatsApp one also
    keeps when the customer last wrote (Meta's 24-hour window)."""

    id: str
    profile_id: str
    brand_number: str
    channel: str = "sms"
    last_customer_at: float = 0.0


@dataclass
class Event:
    id: str
    uuid: str
    metric_name: str
    profile_id: str
    moment: datetime
    properties: dict[str, Any]
    unique_id: str
    backfill: bool = False
    value: float | None = None

    @property
    def metric_id(self) -> str:
        return metric_id(self.metric_name)

    @property
    def datetime(self) -> str:
        return iso(self.moment)

    @property
    def timestamp(self) -> int:
        return int(self.moment.timestamp())

    def as_admin_json(self) -> dict[str, Any]:
        return {"id": self.id, "uuid": self.uuid, "metric": self.metric_name,
                "metric_id": self.metric_id, "profile_id": self.profile_id,
                "datetime": self.datetime, "timestamp": self.timestamp,
                "properties": self.properties, "unique_id": self.unique_id,
                "backfill": self.backfill, "value": self.value}


class ProfileError(ValueError):
    """An event names a profile that cannot be found or created (answered as 400)."""


class KlaviyoState:
    """In-memory Klaviyo account. Settings an admin can change: `opt_out_match`
    ("contains" = Klaviyo's default, or "exact") and `conversations_enabled` (the Conversations
    API needs account-level enablement [doc]; off → 403). `account`: which seeded account
    (seed.ACCOUNTS; each sandbox holds two, rule E7). `webhooks_api_enabled`: whether the
    account may use the Webhooks API (Advanced KDP [doc]; off → 403)."""

    def __init__(self, sb: Any, account: seed.SeedAccount = seed.ACME) -> None:
        self.sb = sb
        self.account = account
        self.lock: threading.RLock = getattr(sb, "lock", None) or threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            now = iso(datetime.now(UTC))
            self.profiles: dict[str, Profile] = {}
            for p in self.account.profiles:
                self.profiles[p.id] = Profile(
                    p.id, p.phone, p.email, p.first_name, p.last_name,
                    sms_marketing=p.sms_marketing, sms_transactional=p.sms_transactional,
                    marketing_consent_at=None if p.sms_marketing == "NEVER_SUBSCRIBED" else now,
                    transactional_consent_at=(None if p.sms_transactional == "NEVER_SUBSCRIBED"
                                              else now),
                    created=now, updated=now)
            self.brand_numbers: dict[str, str] = {b.number: b.kind
                                                  for b in self.account.brand_numbers}
            self.conversations: dict[str, Conversation] = {}
            # Indexes, so a benchmark's 50,000 customers are not found by scanning them all:
            # phone -> profile id; (profile id, channel) -> conversation id.
            self._by_phone = {p.phone_number: p.id for p in self.profiles.values()
                              if p.phone_number}
            self._conv_of: dict[tuple[str, str], str] = {}
            self.events: list[Event] = []
            # profile id -> its events, and every metric name: a 50,000-recipient campaign's
            # events are not sorted on each profile's events read (real Klaviyo answers these
            # filtered reads in constant time; a scan made the benchmark measure the sandbox)
            self._events_of: dict[str, list[Event]] = {}
            self._metric_names: set[str] = set()
            self._unique: set[tuple[str, str, str]] = set()
            self.sms: list[dict[str, Any]] = []
            self.opt_out_match = "contains"
            self.conversations_enabled = True
            # Seconds before a conversation message Klaviyo sent is recorded: its `Received SMS`
            # event shows in GET /api/events and its received_sms webhook leaves (A6 tests).
            self.record_delay_seconds = 0.0
            self.recorded_after: dict[str, float] = {}    # event id -> when it shows
            # Webhook deliveries answered 503 wait for its Retry-After (webhooks.retry_policy_503)
            self.retry_after_on_503 = False
            # System webhooks made through the Webhooks API (webhook_api.py): kept, never sent
            # to. Off: the account has no Advanced KDP and that API answers 403.
            self.system_webhooks: dict[str, SystemWebhook] = {}
            self.webhooks_api_enabled = True
            self._last_us = 0

    def credentials(self) -> tuple[str, str | None, str]:
        """(API key, webhook URL or None, webhook secret) of this account, read from the
        sandbox config each time (the admin API may change the URL and secret at run time)."""
        c = self.sb.config
        if self.account == seed.ACCOUNTS[0]:
            return c.klaviyo_api_key, c.klaviyo_webhook_url, c.klaviyo_webhook_secret
        return c.klaviyo2_api_key, c.klaviyo2_webhook_url, c.klaviyo2_webhook_secret

    # ---- time and ids -------------------------------------------------------------------
    def next_moment(self) -> datetime:
        """Now, but strictly after the previous moment handed out (microsecond resolution)."""
        with self.lock:
            us = max(time.time_ns() // 1000, self._last_us + 1)
            self._last_us = us
            return datetime.fromtimestamp(us / 1_000_000, UTC).replace(microsecond=us % 1_000_000)

    # ---- profiles -----------------------------------------------------------------------
    def find(self, field_name: str, value: str) -> list[Profile]:
        with self.lock:
            if field_name == "phone_number":
                p = self.profiles.get(self._by_phone.get(value, ""))
                return [p] if p is not None and p.phone_number == value else []
            return [p for p in self.profiles.values() if getattr(p, field_name) == value]

    def by_phone(self, phone: str) -> Profile | None:
        found = self.find("phone_number", phone)
        return found[0] if found else None

    def resolve_profile(self, ref: dict[str, Any]) -> Profile:
        """The profile an event names (`{"id"?, "attributes": {...}}`), created if unknown; the
        custom `properties` among its attributes are set on it, key by key [doc]."""
        with self.lock:
            p = self._find_or_create(ref)
            props = (ref.get("attributes") or {}).get("properties")
            if isinstance(props, dict) and props:
                p.properties.update(props)
                p.updated = iso(datetime.now(UTC))
            return p

    def _find_or_create(self, ref: dict[str, Any]) -> Profile:
        attrs = ref.get("attributes") or {}
        with self.lock:
            if ref.get("id"):
                if ref["id"] not in self.profiles:
                    raise ProfileError(f"Profile with id {ref['id']} does not exist.")
                return self.profiles[ref["id"]]
            phone, email = attrs.get("phone_number"), attrs.get("email")
            if phone is not None and not E164.match(str(phone)):
                raise ProfileError(f"Invalid phone number format: {phone!r}. Use E.164.")
            if email is not None and "@" not in str(email):
                raise ProfileError(f"Invalid email address: {email!r}.")
            for key in ("email", "phone_number", "external_id"):
                if attrs.get(key):
                    found = self.find(key, attrs[key])
                    if found:
                        self._fill_missing(found[0], attrs)
                        return found[0]
            if not (phone or email or attrs.get("external_id") or attrs.get("anonymous_id")):
                raise ProfileError("A profile identifier (id, email, phone_number or "
                                   "external_id) is required.")
            return self._create(attrs)

    def _fill_missing(self, p: Profile, attrs: dict[str, Any]) -> None:
        for key in ("email", "phone_number", "external_id", "first_name", "last_name"):
            if attrs.get(key) and getattr(p, key) is None:
                setattr(p, key, attrs[key])
                if key == "phone_number":
                    self._by_phone.setdefault(attrs[key], p.id)
                p.updated = iso(datetime.now(UTC))

    def _create(self, attrs: dict[str, Any]) -> Profile:
        now = iso(datetime.now(UTC))
        p = Profile(new_profile_id(), attrs.get("phone_number"), attrs.get("email"),
                    attrs.get("first_name"), attrs.get("last_name"), attrs.get("external_id"),
                    created=now, updated=now, properties=dict(attrs.get("properties") or {}))
        self.profiles[p.id] = p
        if p.phone_number:
            self._by_phone.setdefault(p.phone_number, p.id)
        return p

    def consenting_profile(self, phone: str) -> Profile:
        """The profile with `phone` (made if new) subscribed to SMS (benchmarks' customers)."""
        with self.lock:
            p = self.by_phone(phone) or self._create({"phone_number": phone})
            self.set_consent(p, "SUBSCRIBED", "SUBSCRIBED")
            return p

    def set_consent(self, profile: Profile, marketing: str | None = None,
                    transactional: str | None = None) -> None:
        for value in (marketing, transactional):
            if value is not None and value not in CONSENTS:
                raise ValueError(f"consent must be one of {', '.join(CONSENTS)}")
        with self.lock:
            now = iso(datetime.now(UTC))
            if marketing is not None and marketing != profile.sms_marketing:
                profile.sms_marketing, profile.marketing_consent_at = marketing, now
            if transactional is not None and transactional != profile.sms_transactional:
                profile.sms_transactional, profile.transactional_consent_at = transactional, now
            profile.updated = now

    # ---- events -------------------------------------------------------------------------
    def record_event(self, profile: Profile, metric_name: str, properties: dict[str, Any],
                     moment: datetime | None = None, unique_id: str | None = None,
                     backfill: bool = False, value: float | None = None) -> Event | None:
        """Store an event; None when (profile, metric, unique_id) was already stored [doc]."""
        with self.lock:
            if unique_id:
                key = (profile.id, metric_id(metric_name), unique_id)
                if key in self._unique:
                    return None
                self._unique.add(key)
            eid = "".join(secrets.choice(_BASE62) for _ in range(12))
            props = dict(properties)
            ev = Event(eid, str(uuid.uuid4()), metric_name, profile.id,
                       moment or self.next_moment(), props, unique_id or eid, backfill, value)
            self.events.append(ev)
            self._events_of.setdefault(profile.id, []).append(ev)
            self._metric_names.add(metric_name)
            return ev

    def events_sorted(self, reverse: bool = False, profile_id: str | None = None,
                      ) -> list[Event]:
        """Events by time (ties in the order stored); only `profile_id`'s when given."""
        with self.lock:
            events = self.events if profile_id is None else self._events_of.get(profile_id, [])
            order = {id(e): i for i, e in enumerate(events)}
            return sorted(events, key=lambda e: (e.moment, order[id(e)]), reverse=reverse)

    def metric_names(self) -> set[str]:
        with self.lock:
            return set(self._metric_names)

    # ---- conversations and SMS ----------------------------------------------------------
    def conversation_of(self, profile_id: str, channel: str = "sms") -> Conversation | None:
        with self.lock:
            return self.conversations.get(self._conv_of.get((profile_id, channel), ""))

    def add_conversation(self, conv: Conversation) -> Conversation:
        """Every conversation is added here (the index `conversation_of` reads)."""
        with self.lock:
            self.conversations[conv.id] = conv
            self._conv_of.setdefault((conv.profile_id, conv.channel), conv.id)
            return conv

    def conversations_of(self, profile_id: str) -> list[Conversation]:
        with self.lock:
            return [c for c in self.conversations.values() if c.profile_id == profile_id]

    def customer_whatsapps(self, phone: str, brand_number: str, body: str) -> Event:
        """The customer sends a WhatsApp message to the brand's WhatsApp number: STOP words
        withdraw WhatsApp consent [assumed, like SMS keywords]; otherwise writing to the brand
        is taken as consent to conversational messages when they had none [assumed]. The
        WhatsApp conversation is created or re-pointed and its window restarts."""
        with self.lock:
            profile = self.by_phone(phone) or self._create({"phone_number": phone})
            if self.keyword_action(body, phone) == "opt_out":
                profile.whatsapp = dict.fromkeys(profile.whatsapp, "UNSUBSCRIBED")
            elif profile.whatsapp.get("conversational") == "NEVER_SUBSCRIBED":
                profile.whatsapp["conversational"] = "SUBSCRIBED"
            conv = self.conversation_of(profile.id, WHATSAPP)
            if conv is None:
                conv = Conversation(new_profile_id(), profile.id, brand_number, WHATSAPP)
                self.add_conversation(conv)
            conv.brand_number = brand_number
            props = {"Message Body": body, "To Number": brand_number, "From Number": phone,
                     "Channel": WHATSAPP}
            ev = self.record_event(profile, SENT_WHATSAPP, props)
            assert ev is not None
            conv.last_customer_at = ev.moment.timestamp()
            self._log("to_brand", phone, brand_number, body, "customer", ev, channel=WHATSAPP)
            return ev

    def age_whatsapp(self, phone: str, hours: float) -> Conversation | None:
        """Move the customer's last WhatsApp message `hours` back (to try the 24-hour window
        without waiting a day); None when they have no WhatsApp conversation."""
        with self.lock:
            profile = self.by_phone(phone)
            conv = self.conversation_of(profile.id, WHATSAPP) if profile else None
            if conv is not None:
                conv.last_customer_at -= hours * 3600
            return conv

    def keyword_action(self, body: str, phone: str = "") -> str | None:
        """"opt_out", "opt_in" or None. Opt-out words match when the text contains the word
        (Klaviyo's default) or, in "exact" mode, when they are the whole text, except STOP from a
        US number, which always matches as a word [doc]. Opt-in words must be the whole text.
        Case, surrounding spaces and trailing punctuation are ignored."""
        words = set(re.findall(r"[A-Za-z0-9]+", body.upper()))
        whole = body.strip().rstrip(".!?,;:").strip().upper()
        if self.opt_out_match == "exact":
            if whole in OPT_OUT_WORDS or (phone.startswith("+1") and "STOP" in words):
                return "opt_out"
        elif OPT_OUT_WORDS & words:
            return "opt_out"
        if whole in OPT_IN_WORDS:
            return "opt_in"
        return None

    def customer_texts(self, phone: str, brand_number: str, body: str,
                       media_urls: list[str] | None = None) -> Event:
        """The customer texts a brand number: keywords apply, the conversation is created or
        re-pointed, the text is logged and a `Sent SMS` event recorded (returned for the webhook).

        A text to a branded sender ID still makes an event (the bridge must drop it, rule S3) but
        does not touch the conversation: such IDs cannot receive texts in reality.
        """
        with self.lock:
            profile = self.by_phone(phone) or self._create({"phone_number": phone})
            action = self.keyword_action(body, phone)
            if action == "opt_out":
                self.set_consent(profile, "UNSUBSCRIBED", "UNSUBSCRIBED")
            elif action == "opt_in":
                self.set_consent(profile, marketing="SUBSCRIBED")
            if self.brand_numbers.get(brand_number) != "branded":
                conv = self.conversation_of(profile.id)
                if conv is None:
                    conv = Conversation(new_profile_id(), profile.id, brand_number)
                    self.add_conversation(conv)
                conv.brand_number = brand_number
            props: dict[str, Any] = {"Message Body": body, "To Number": brand_number,
                                     "From Number": phone}
            if media_urls:
                props["Media URLs"] = list(media_urls)
            ev = self.record_event(profile, SENT_SMS, props)
            assert ev is not None
            self._log("to_brand", phone, brand_number, body, "customer", ev, media_urls)
            return ev

    def brand_sends(self, profile: Profile, brand_number: str, body: str, source: str,
                    name: str | None = None, channel: str = "sms") -> Event:
        """An SMS reaches the customer (conversation reply, campaign or flow): logged, plus a
        `Received SMS` event; campaign/flow sends carry `Campaign Name` / `Flow Name`. On
        WhatsApp (a conversation reply) the event is `Received WhatsApp Message` [assumed]."""
        if channel == WHATSAPP:
            with self.lock:
                ev = self.record_event(profile, RECEIVED_WHATSAPP, {
                    "Message Body": body, "From Number": brand_number,
                    "To Number": profile.phone_number, "Channel": WHATSAPP})
                assert ev is not None
                self._log("to_customer", profile.phone_number or "", brand_number, body, source,
                          ev, channel=WHATSAPP)
                return ev
        with self.lock:
            props: dict[str, Any] = {"Message Body": body, "From Number": brand_number,
                                     "To Number": profile.phone_number}
            if source == "campaign":
                props["Campaign Name"] = name or ""
            elif source == "flow":
                props["Flow Name"] = name or ""
            ev = self.record_event(profile, RECEIVED_SMS, props)
            assert ev is not None
            self._log("to_customer", profile.phone_number or "", brand_number, body, source, ev)
            return ev

    def _log(self, direction: str, phone: str, brand_number: str, body: str, source: str,
             ev: Event, media_urls: list[str] | None = None, channel: str = "sms") -> None:
        entry: dict[str, Any] = {"direction": direction, "phone": phone,
                                 "brand_number": brand_number, "body": body, "source": source,
                                 "at": ev.datetime, "event_id": ev.id, "channel": channel}
        if media_urls:
            entry["media_urls"] = list(media_urls)
        self.sms.append(entry)
