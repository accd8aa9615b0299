"""Masking personal data in free text (E5): phone numbers and emails become recognisable but
not readable. Pure, so logs, the ops page and the CLI all mask the same way."""

from __future__ import annotations

import re

from bridge.domain.phones import mask, mask_email

_PHONE = re.compile(r"\+\d{7,15}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def scrub(text: str) -> str:
    """Mask phone numbers and emails inside free text."""
    text = _PHONE.sub(lambda m: mask(m.group(0)), text)
    return _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
