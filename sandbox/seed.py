"""Seed data shared by both sandbox APIs, so the phone, the desk and the tests agree on who is who.

Customers exist as Klaviyo profiles (with SMS consent) and, once the bridge creates them, as
Zendesk end users. Agents exist only in Zendesk. One agent shares an email with a customer
profile (Dana), which is the case rule A3 guards against.

Two Klaviyo accounts (rule E7, #16: several brands, one Zendesk): Acme, the account every test
used before, and Bolt, a second shop with its own profiles and brand numbers. Bolt's Alice has
Acme's Alice's phone (one person, a customer of both shops) under a different profile id.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SeedProfile:
    id: str
    phone: str
    email: str | None
    first_name: str
    last_name: str
    sms_marketing: str        # SUBSCRIBED / UNSUBSCRIBED / NEVER_SUBSCRIBED
    sms_transactional: str


@dataclass(frozen=True)
class SeedAgent:
    id: int
    name: str
    email: str
    role: str                 # agent / admin


@dataclass(frozen=True)
class SeedBrandNumber:
    number: str               # E.164, short code digits, or an alphanumeric sender ID
    kind: str                 # toll_free / long_code / short_code / branded


PROFILES = (
    SeedProfile("01JSANDBOXALICE0000000000", "+15005550101", "alice@example.com", "Alice",
                "Ames", "SUBSCRIBED", "SUBSCRIBED"),
    SeedProfile("01JSANDBOXBOB000000000000", "+15005550102", None, "Bob", "Burns",
                "SUBSCRIBED", "NEVER_SUBSCRIBED"),
    SeedProfile("01JSANDBOXCARLA0000000000", "+15005550103", "carla@example.com", "Carla",
                "Cruz", "UNSUBSCRIBED", "NEVER_SUBSCRIBED"),
    SeedProfile("01JSANDBOXDANA00000000000", "+15005550104", "dana@acme-shop.test", "Dana",
                "Diaz", "SUBSCRIBED", "SUBSCRIBED"),
    SeedProfile("01JSANDBOXEMIL00000000000", "+447700900105", "emil@example.co.uk", "Emil",
                "Ek", "NEVER_SUBSCRIBED", "SUBSCRIBED"),
)

AGENTS = (
    SeedAgent(9001, "Ana Agent", "ana@acme-shop.test", "agent"),
    SeedAgent(9002, "Dana Diaz", "dana@acme-shop.test", "admin"),   # same email as a customer (A3)
    SeedAgent(9003, "Bridge API User", "bridge@acme-shop.test", "admin"),  # the API credential
)

GROUPS = ((7001, "Support"), (7002, "SMS"))

BRAND_NUMBERS = (
    SeedBrandNumber("+18005550100", "toll_free"),
    SeedBrandNumber("+12125550100", "long_code"),
    SeedBrandNumber("12345", "short_code"),
    SeedBrandNumber("ACME", "branded"),
)


@dataclass(frozen=True)
class SeedAccount:
    name: str                 # the sandbox's handle (`?account=bolt` on admin routes)
    account_id: str           # Klaviyo's public account id (GET /api/accounts, webhook meta)
    webhook_id: str           # its system webhook's id (Klaviyo-Webhook-Id)
    organization: str
    profiles: tuple[SeedProfile, ...]
    brand_numbers: tuple[SeedBrandNumber, ...]


BOLT_PROFILES = (
    SeedProfile("01JSANDBOXBOLTALICE000000", "+15005550101", "alice@example.com", "Alice",
                "Ames", "SUBSCRIBED", "SUBSCRIBED"),     # Acme's Alice's phone (E7)
    SeedProfile("01JSANDBOXBOLTFINN0000000", "+15005550106", "finn@example.com", "Finn",
                "Fox", "SUBSCRIBED", "NEVER_SUBSCRIBED"),
)

BOLT_NUMBERS = (
    SeedBrandNumber("+18005550200", "toll_free"),
    SeedBrandNumber("+12125550200", "long_code"),
    SeedBrandNumber("54321", "short_code"),
)

ACME = SeedAccount("acme", "SbxAcm", "01JSANDBOXSYSTEMWEBHOOK000", "Acme Shop", PROFILES,
                   BRAND_NUMBERS)
BOLT = SeedAccount("bolt", "SbxBlt", "01JSANDBOXBOLTWEBHOOK00000", "Bolt Bikes", BOLT_PROFILES,
                   BOLT_NUMBERS)
ACCOUNTS = (ACME, BOLT)       # the first is the default account (today's single one)
