"""Brands (rule E7, #16): one deployment serves several Klaviyo accounts, each mapped to a
Zendesk brand, all sharing one Zendesk account and its quota.

The single-brand environment variables keep meaning what they always meant: the brand named
`default` (its Redis keys keep today's names, so upgrading changes nothing; see
adapters/redis_keys.py and docs/brands.md). `BRANDS_FILE` (brands_file.py) adds further brands.
The file and the variables are validated together: every problem is collected, each naming
the brand and the field, like `Settings.from_env`.

How the rest of the bridge uses them: docs/brands.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bridge.brands_file import OPTIONAL, brand_values, read_tables
from bridge.config import Settings
from bridge.domain.model import WHATSAPP_BRAND_PREFIX
from bridge.errors import ConfigError

DEFAULT = "default"


@dataclass(frozen=True)
class Brand:
    """One Klaviyo account and how its texts become tickets in the shared Zendesk."""

    name: str                                    # slug: URLs, Redis keys, metric labels
    klaviyo_api_key: str = field(repr=False)
    klaviyo_webhook_secrets: tuple[str, ...] = field(repr=False)  # several during a rotation
    numbers: tuple[str, ...] = ()       # canonical; the default brand's may be () (any number)
    sms_keywords: frozenset[str] = frozenset()
    sms_reply_mode: str = "conversations"
    klaviyo_revision: str = "2026-07-15"
    zendesk_brand_id: int | None = None
    zendesk_group_id: int | None = None
    sms_ticket_tags: tuple[str, ...] = ()
    sms_subject_template: str = "SMS from {masked_phone}"

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT


def default_brand(settings: Settings) -> Brand:
    """The brand the single-brand environment variables describe (today's deployment)."""
    return Brand(DEFAULT, settings.klaviyo_api_key, settings.klaviyo_webhook_secrets,
                 **{key: getattr(settings, key) for key in (*OPTIONAL, "zendesk_brand_id")})


def load_brands(settings: Settings, env: Mapping[str, str] | None = None) -> tuple[Brand, ...]:
    """The default brand, then the file's brands in their order; `ConfigError` listing every
    problem of the file and of its agreement with the environment's default brand."""
    env = os.environ if env is None else env
    problems: list[str] = []
    brands = (default_brand(settings), *_file_brands(env, _inherited(settings), problems))
    problems += clash_problems(brands)
    if problems:
        raise ConfigError(problems)
    return brands


def settings_and_brands(env: Mapping[str, str] | None = None) -> tuple[Settings, tuple[Brand, ...]]:
    """Settings and brands checked in one go: the variables' problems and the file's are
    reported together, so one start-up attempt shows the whole configuration's faults."""
    env = os.environ if env is None else env
    try:
        settings = Settings.from_env(env)
    except ConfigError as e:
        problems = list(e.problems)
        _file_brands(env, _inherited(None), problems)    # the file's own faults, too
        raise ConfigError(problems) from None
    return settings, load_brands(settings, env)


def _inherited(settings: Settings | None) -> dict[str, Any]:
    """What a file brand's unset optional fields become: the default brand's values (the
    built-in defaults when the variables could not be read)."""
    if settings is not None:
        return {key: getattr(settings, key) for key in OPTIONAL}
    return {f.name: f.default for f in fields(Brand) if f.name in OPTIONAL}


def _file_brands(env: Mapping[str, str], inherited: Mapping[str, Any],
                 problems: list[str]) -> list[Brand]:
    path = (env.get("BRANDS_FILE") or "").strip()
    if not path:
        return []
    base = Path(path).parent
    return [Brand(**brand_values(table, i, base, inherited, problems))
            for i, table in enumerate(read_tables(path, problems))]


def clash_problems(brands: Iterable[Brand]) -> list[str]:
    """What two brands may not share: a name (URLs, keys), a number (a reply's sender, a
    ticket's routing), a Zendesk brand (event routing), a Klaviyo API key or webhook secret
    (one account each; brand A's secret must not pass brand B's webhook). Secrets are named,
    never shown."""
    problems: list[str] = []
    owners: dict[tuple[str, object], tuple[int, str]] = {}
    for i, brand in enumerate(brands):
        if brand.name == DEFAULT and i > 0:
            problems.append(f"BRANDS_FILE brand {brand.name!r}: name {DEFAULT!r} is the brand "
                            "the environment variables configure; name this one otherwise")
            continue
        for kind, value in _claims(brand):
            j, other = owners.setdefault((kind, value), (i, brand.name))
            if j != i:
                whose = "the environment variables'" if j == 0 else f"{other!r}'s"
                problems.append(f"BRANDS_FILE brand {brand.name!r}: {_what(kind, value)} is "
                                f"already brand {whose}; brands may not share it")
    return problems


def _claims(brand: Brand) -> list[tuple[str, object]]:
    claims: list[tuple[str, object]] = [("name", brand.name)]
    claims += [("number", n) for n in brand.numbers]
    if brand.zendesk_brand_id is not None:
        claims.append(("zendesk_brand_id", brand.zendesk_brand_id))
    if brand.klaviyo_api_key:
        claims.append(("klaviyo_api_key", brand.klaviyo_api_key))
    claims += [("klaviyo_webhook_secret", s) for s in brand.klaviyo_webhook_secrets]
    return claims


def _what(kind: str, value: object) -> str:
    if kind in ("klaviyo_api_key", "klaviyo_webhook_secret"):
        return f"its {kind}"              # a secret: named, never shown
    if kind == "number":
        return f"number {value!r}"
    return f"{kind} {value!r}"


def brand_named(brands: Iterable[Brand], name: str) -> Brand | None:
    """The brand a URL or key names (`/webhooks/klaviyo/<brand>`), or None."""
    return next((b for b in brands if b.name == name), None)


def brand_for_ticket(brands: tuple[Brand, ...], zendesk_brand_id: int | None,
                     number: str | None = None) -> Brand:
    """The brand a Zendesk ticket belongs to: by its Zendesk brand id, else by the brand number
    of its SMS conversation (external_id; numbers are unique across brands), else the default
    brand (so a ticket of a Zendesk brand no configured brand maps gets its metrics on the
    default brand's Klaviyo account, as the README says)."""
    found = next((b for b in brands if zendesk_brand_id is not None
                  and b.zendesk_brand_id == zendesk_brand_id), None)
    if found is None and number:
        number = number.removeprefix(WHATSAPP_BRAND_PREFIX)   # S9: the same brand number
        found = next((b for b in brands if number in b.numbers), None)
    return found or brands[0]


def brand_settings(settings: Settings, brand: Brand) -> Settings:
    """The settings a brand's jobs run with: the deployment's, with the brand's Klaviyo account,
    keywords, reply mode and Zendesk brand, group, tags and subject (the default brand's are
    the settings themselves)."""
    if brand.is_default:
        return settings
    return replace(settings, klaviyo_api_key=brand.klaviyo_api_key,
                   klaviyo_webhook_secret=",".join(brand.klaviyo_webhook_secrets),
                   zendesk_brand_id=brand.zendesk_brand_id,
                   **{key: getattr(brand, key) for key in OPTIONAL})


def owns_number(brands: tuple[Brand, ...], brand: Brand) -> Callable[[str], bool]:
    """Whether a brand number is `brand`'s: one of its numbers; for the default brand (any
    number, as today), any number no other brand names. A7 notes only a brand's own tickets."""
    if brand.numbers or not brand.is_default:
        mine = frozenset(brand.numbers)
        return lambda number: number in mine
    others = frozenset(n for b in brands if not b.is_default for n in b.numbers)
    return lambda number: number not in others


def brand_secrets(brands: Iterable[Brand]) -> list[str]:
    """Every brand's API key and webhook secrets, for the log guard (a brands file's secrets
    are not in the environment, where the guard looks for the others)."""
    return [s for b in brands for s in (b.klaviyo_api_key, *b.klaviyo_webhook_secrets) if s]
