"""Phone numbers: normalising, classifying brand numbers (rule S3) and masking for logs (E5).

Pure functions over strings; `phonenumbers` (Google's libphonenumber) does the parsing so we do
not hand-roll numbering-plan rules.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumberType

SHORT_CODE = re.compile(r"\d{5,6}")


def normalize(raw: str | None) -> str | None:
    """E.164 form of a full number, or None if it is not a possible phone number."""
    if not raw:
        return None
    text = raw.strip()
    try:
        parsed = phonenumbers.parse(text if text.startswith("+") else "+" + text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def brand_number_kind(raw: str | None) -> str:
    """toll_free / long_code / short_code / branded / invalid.

    Only the first three can receive texts; a value with letters is a branded (alphanumeric)
    sender ID, which cannot (rule S3).
    """
    text = (raw or "").strip()
    if not text:
        return "invalid"
    if any(c.isalpha() for c in text):
        return "branded"
    if SHORT_CODE.fullmatch(text):
        return "short_code"
    e164 = normalize(text)
    if e164 is None:
        return "invalid"
    kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
    return "toll_free" if kind == PhoneNumberType.TOLL_FREE else "long_code"


def canonical_brand_number(raw: str) -> str:
    """The form we key conversations by: E.164 for full numbers, digits for short codes."""
    text = raw.strip()
    if SHORT_CODE.fullmatch(text):
        return text
    return normalize(text) or text


def mask(phone: str | None) -> str:
    """'+15005550101' -> '+1••••••0101': enough for a person to tell customers apart."""
    if not phone:
        return "(no phone)"
    digits = phone.lstrip("+")
    if len(digits) <= 4:
        return "•" * len(digits)
    country = ""
    if phone.startswith("+"):
        try:
            country = "+" + str(phonenumbers.parse(phone, None).country_code)
        except phonenumbers.NumberParseException:
            country = "+"
    rest = digits[len(country) - 1:] if country else digits
    return f"{country}{'•' * (len(rest) - 4)}{rest[-4:]}"


def mask_email(email: str | None) -> str:
    """'alice@example.com' -> 'a•••@example.com'."""
    if not email or "@" not in email:
        return "(no email)"
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}"
