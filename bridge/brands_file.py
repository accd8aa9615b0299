"""The brands file (`BRANDS_FILE`, rule E7, #16): a TOML file listing the brands a deployment
serves besides the default one (the environment variables configure `default`, as they always
have). TOML because Python reads it without a dependency (tomllib); see docs/brands.md.

    [[brand]]
    name = "shop2"                               # a slug: URLs and Redis keys use it
    klaviyo_api_key_file = "shop2-klaviyo-key"   # or klaviyo_api_key = "pk_..."
    klaviyo_webhook_secret = ["new", "old"]      # one, or several during a rotation; or _file
    numbers = ["+18005550199", "55123"]          # the numbers its Klaviyo account texts from
    zendesk_brand_id = 360000000002              # its tickets' Zendesk brand
    # optional, each as the default brand's when unset: sms_keywords, sms_reply_mode,
    # klaviyo_revision, zendesk_group_id, sms_ticket_tags, sms_subject_template

This module checks one brand's table at a time and returns the values of a `Brand`; the rules
across brands (unique names, numbers, Zendesk brands, Klaviyo accounts) live in brands.py.
Every problem names the brand and the field, and never holds a secret's value.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bridge.config import KEYWORD, REPLY_MODES, REVISION, SUBJECT_FIELDS
from bridge.domain.phones import brand_number_kind, canonical_brand_number

NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")      # lower-case slug, at most 32 characters
SENDER_ID = re.compile(r"[A-Za-z0-9 ]{1,11}")   # an alphanumeric sender ID: 11 characters
SECRETS = ("klaviyo_api_key", "klaviyo_webhook_secret")
OPTIONAL = ("sms_keywords", "sms_reply_mode", "klaviyo_revision", "zendesk_group_id",
            "sms_ticket_tags", "sms_subject_template")
KNOWN = frozenset({"name", "numbers", "zendesk_brand_id", *OPTIONAL, *SECRETS,
                   *(f"{s}_file" for s in SECRETS)})


def read_tables(path: str, problems: list[str]) -> list[Mapping[str, Any]]:
    """The file's `[[brand]]` tables; a problem (and none) when it cannot be read or parsed.
    A TOML error names its line and column, never the text there (it may be a secret)."""
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except OSError as e:
        problems.append(f"BRANDS_FILE={path!r} cannot be read ({e.strerror})")
        return []
    except tomllib.TOMLDecodeError as e:
        problems.append(f"BRANDS_FILE={path!r} is not valid TOML: {str(e)[:120]}")
        return []
    extra = sorted(set(document) - {"brand"})
    if extra:
        problems.append(f"BRANDS_FILE: unknown top-level keys {extra}; brands are listed as "
                        "[[brand]] tables")
    tables = document.get("brand", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        problems.append("BRANDS_FILE: `brand` must be a list of [[brand]] tables")
        return []
    return tables


class BrandTable:
    """Reads one `[[brand]]` table, each problem prefixed with the brand it is about."""

    def __init__(self, table: Mapping[str, Any], label: str, base: Path,
                 problems: list[str]) -> None:
        self.table, self.label, self.base, self.problems = table, label, base, problems

    def problem(self, key: str, text: str) -> None:
        self.problems.append(f"BRANDS_FILE brand {self.label}: {key} {text}")

    def text(self, key: str, required: bool = False) -> str | None:
        value = self.table.get(key)
        if value is None:
            if required:
                self.problem(key, "is not set")
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(key, "must be a non-empty string")
            return None
        return value.strip()

    def strings(self, key: str) -> tuple[str, ...] | None:
        """A list of strings (None when unset)."""
        value = self.table.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                  for v in value):
            self.problem(key, "must be a list of non-empty strings")
            return None
        return tuple(v.strip() for v in value)

    def integer(self, key: str, required: bool = False) -> int | None:
        value = self.table.get(key)
        if value is None and required:
            self.problem(key, "is not set (a whole number)")
        elif value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                    or value < 1):
            self.problem(key, "must be a whole number above 0")
            return None
        return value

    def secret(self, key: str) -> str | None:
        """`key`, or the file `<key>_file` names (relative to the brands file): one, not both,
        like the environment's `<NAME>_FILE`. The value never appears in a problem."""
        inline, path = self.table.get(key), self.text(f"{key}_file")
        if inline is not None and path is not None:
            self.problem(key, f"and {key}_file are both set; set one")
            return None
        if path is None:
            if isinstance(inline, list) and key == "klaviyo_webhook_secret":
                inline = ",".join(str(v) for v in inline)   # several during a rotation
            if inline is not None and (not isinstance(inline, str) or not inline.strip()):
                self.problem(key, "must be a non-empty string")
                return None
            if inline is None:
                self.problem(key, f"is not set (set {key} or {key}_file)")
            return inline.strip() if isinstance(inline, str) else None
        try:
            value = (self.base / path).read_text(encoding="utf-8").strip()
        except OSError as e:
            self.problem(f"{key}_file", f"{path!r} cannot be read ({e.strerror})")
            return None
        if not value:
            self.problem(f"{key}_file", f"{path!r} is empty")
        return value or None


def brand_values(table: Mapping[str, Any], index: int, base: Path,
                 inherited: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    """The values of one brand (unset optional fields: `inherited`, the default brand's)."""
    raw_name = table.get("name")
    label = repr(raw_name) if isinstance(raw_name, str) and raw_name else f"#{index + 1}"
    t = BrandTable(table, label, base, problems)
    for key in sorted(set(table) - KNOWN):
        t.problem(key, f"is not a brand field (known: {', '.join(sorted(KNOWN))})")
    name = t.text("name", required=True)
    if name is not None and not NAME.fullmatch(name):
        t.problem("name", "must be a lower-case slug: a letter, then letters, digits or "
                  "hyphens, at most 32 characters (URLs and Redis keys use it)")
    secret = t.secret("klaviyo_webhook_secret") or ""
    return {"name": name or "", "klaviyo_api_key": t.secret("klaviyo_api_key") or "",
            "klaviyo_webhook_secrets": tuple(s.strip() for s in secret.split(",") if s.strip()),
            "numbers": _numbers(t), "zendesk_brand_id": t.integer("zendesk_brand_id", True),
            **_optional(t, inherited)}


def _numbers(t: BrandTable) -> tuple[str, ...]:
    """Canonical brand numbers (E.164, short-code digits, or a branded sender ID), in order."""
    numbers = t.strings("numbers")
    if not numbers:
        t.problem("numbers", "must list the numbers this brand's Klaviyo account texts from")
        return ()
    for n in numbers:
        kind = brand_number_kind(n)
        if kind == "invalid" or (kind == "branded" and not SENDER_ID.fullmatch(n)):
            t.problem("numbers", f"entry {n!r} is not a phone number, short code or sender ID")
    return tuple(dict.fromkeys(canonical_brand_number(n) for n in numbers))


def _optional(t: BrandTable, inherited: Mapping[str, Any]) -> dict[str, Any]:
    """The optional fields, checked by the same rules as their environment variables."""
    values = {key: inherited[key] for key in OPTIONAL}
    keywords = t.strings("sms_keywords")
    if keywords is not None:
        values["sms_keywords"] = frozenset(k.upper() for k in keywords)
        for k in sorted(k for k in values["sms_keywords"] if not KEYWORD.fullmatch(k)):
            t.problem("sms_keywords", f"entry {k!r} must be 3-20 letters or digits "
                      "(Klaviyo's rule for custom keywords)")
    mode = t.text("sms_reply_mode")
    if mode is not None:
        values["sms_reply_mode"] = mode.lower()
        if mode.lower() not in REPLY_MODES:
            t.problem("sms_reply_mode", f"must be {' or '.join(map(repr, REPLY_MODES))}")
    revision = t.text("klaviyo_revision")
    if revision is not None:
        values["klaviyo_revision"] = revision
        if not REVISION.fullmatch(revision):
            t.problem("klaviyo_revision", f"must look like 2026-07-15, got {revision!r}")
    subject = t.text("sms_subject_template")
    if subject is not None:
        values["sms_subject_template"] = subject
        if not set(re.findall(r"{(\w*)}", subject)) <= SUBJECT_FIELDS:
            t.problem("sms_subject_template", "may only use {masked_phone}, {brand_number}, "
                      "{name} and {first_words}")
    if "zendesk_group_id" in t.table:
        values["zendesk_group_id"] = t.integer("zendesk_group_id")
    tags = t.strings("sms_ticket_tags")
    if tags is not None:
        values["sms_ticket_tags"] = tags
    return values
