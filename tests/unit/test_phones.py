"""Phone numbers: normalising, brand-number kinds (S3) and masking (E5)."""

from __future__ import annotations

import pytest

from bridge.domain.phones import (
    brand_number_kind,
    canonical_brand_number,
    mask,
    mask_email,
    normalize,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("+15551234567", "+15551234567"),
    ("15551234567", "+15551234567"),
    (" +1 (555) 123-4567 ", "+15551234567"),
    ("+44 7700 900123", "+447700900123"),
])
def test_full_numbers_are_normalised_to_e164(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "abc", "+1", "12345"])
def test_things_that_are_not_full_numbers_do_not_normalise(raw: str | None) -> None:
    assert normalize(raw) is None


@pytest.mark.parametrize(("raw", "kind"), [
    ("12345", "short_code"), ("123456", "short_code"), (" 12345 ", "short_code"),
    ("+18005550100", "toll_free"), ("+18885550100", "toll_free"),
    ("+14155550123", "long_code"), ("+447700900123", "long_code"),
    ("ACME", "branded"), ("Acme2Go", "branded"),
    ("", "invalid"), (None, "invalid"), ("123", "invalid"), ("1234567", "invalid"),
])
def test_s3_brand_numbers_are_classified(raw: str | None, kind: str) -> None:
    assert brand_number_kind(raw) == kind


@pytest.mark.parametrize(("raw", "expected"), [("12345", "12345"), (" 12345 ", "12345"),
                                               ("1 800 555 0100", "+18005550100"),
                                               ("ACME", "ACME")])
def test_conversations_are_keyed_by_e164_or_short_code_digits(raw: str, expected: str) -> None:
    assert canonical_brand_number(raw) == expected


def test_e5_a_masked_phone_keeps_the_country_code_and_last_four_digits() -> None:
    assert mask("+15005550101") == "+1••••••0101"
    assert mask("+447700900123") == "+44••••••0123"


def test_e5_a_masked_phone_hides_the_middle_digits() -> None:
    masked = mask("+15551234567")
    assert "555123" not in masked
    assert len(masked) == len("+15551234567")


@pytest.mark.parametrize(("raw", "expected"), [(None, "(no phone)"), ("", "(no phone)"),
                                               ("+123", "•••"), ("12345", "•2345")])
def test_e5_short_or_missing_phones_are_masked_safely(raw: str | None, expected: str) -> None:
    assert mask(raw) == expected


def test_e5_an_email_keeps_its_first_letter_and_domain() -> None:
    assert mask_email("alice@example.com") == "a•••@example.com"
    assert mask_email(None) == mask_email("no-at-sign") == "(no email)"
