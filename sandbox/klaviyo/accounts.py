"""Which of the sandbox's Klaviyo accounts a call is for (rule E7, #16: several brands, each its
own Klaviyo account, sharing one Zendesk).

The sandbox holds one `KlaviyoState` per seeded account (seed.ACCOUNTS): the first is the one
every test used before and stays the default everywhere. An API call names its account by its
private key (as with Klaviyo: the key is the account); an admin call by `?account=<name>`, else
by the brand number it texts or sends from, or the profile it names, else the first account.
Each account has its own rate-limit buckets (Klaviyo's limits are per account): the first keeps
today's bucket names, the others' carry `@<name>`.
"""

from __future__ import annotations

from typing import Any

from flask import g, request

from sandbox.klaviyo.state import KlaviyoState


class UnknownAccount(Exception):
    """`?account=` names no account (the admin routes answer 404)."""


def all_of(sb: Any) -> tuple[KlaviyoState, ...]:
    return tuple(sb.klaviyo_accounts)


def by_key(sb: Any, key: str) -> KlaviyoState | None:
    return next((a for a in all_of(sb) if a.credentials()[0] == key), None)


def by_name(sb: Any, name: str) -> KlaviyoState | None:
    return next((a for a in all_of(sb) if a.account.name == name), None)


def by_number(sb: Any, number: object) -> KlaviyoState | None:
    return next((a for a in all_of(sb) if number in a.brand_numbers), None)


def by_profile(sb: Any, profile_id: str) -> KlaviyoState | None:
    return next((a for a in all_of(sb) if profile_id in a.profiles), None)


def current(sb: Any) -> KlaviyoState:
    """The account the API call being served authenticated as (set by `authenticate`)."""
    return g.get("klaviyo_account") or sb.klaviyo


def bucket(state: KlaviyoState, name: str) -> str:
    """The rate-limit bucket `name` of this account."""
    first = state.sb.klaviyo_accounts[0]
    return name if state is first else f"{name}@{state.account.name}"


def for_request(sb: Any, number: object = None, profile_id: str | None = None) -> KlaviyoState:
    """The account an admin call is for: `?account=<name>` (unknown: `UnknownAccount`), else the
    one owning the brand number texted or sent from, else the one holding the profile named,
    else the first, so every call written before the second account means the same."""
    name = request.args.get("account")
    if name is not None:
        found = by_name(sb, name)
        if found is None:
            names = ", ".join(a.account.name for a in all_of(sb))
            raise UnknownAccount(f"no Klaviyo account {name!r} (accounts: {names})")
        return found
    return (by_number(sb, number) if number is not None else None) or \
        (by_profile(sb, profile_id) if profile_id else None) or sb.klaviyo
