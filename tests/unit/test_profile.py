"""Klaviyo profile resources -> Profile, with SMS consent as marketing OR transactional (S1)."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.adapters.klaviyo import profile_from_resource


def resource(sms: dict[str, Any] | None = None, *, subscriptions: bool = True,
             **attributes: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {"email": "ana@example.com", "phone_number": "+15551234567",
                             "first_name": "Ana", "last_name": "Lima"}
    if subscriptions:
        attrs["subscriptions"] = {"email": {"marketing": {"consent": "SUBSCRIBED"}},
                                  "sms": sms}
    attrs.update(attributes)
    return {"type": "profile", "id": "01JPROFILE", "attributes": attrs}


def marketing(consent: str, can: bool | None) -> dict[str, Any]:
    out: dict[str, Any] = {"consent": consent}
    if can is not None:
        out["can_receive_sms_marketing"] = can
    return out


def transactional(consent: str, can: bool | None) -> dict[str, Any]:
    out: dict[str, Any] = {"consent": consent}
    if can is not None:
        out["can_receive_sms_transactional"] = can
    return out


def test_the_profile_fields_the_bridge_needs_are_read() -> None:
    p = profile_from_resource(resource({"marketing": marketing("SUBSCRIBED", True)}))
    assert (p.id, p.email, p.phone, p.display_name) == (
        "01JPROFILE", "ana@example.com", "+15551234567", "Ana Lima")


def test_s1_a_marketing_subscriber_can_receive_sms() -> None:
    assert profile_from_resource(resource({"marketing": marketing("SUBSCRIBED", True)})) \
        .can_receive_sms is True


def test_s1_a_marketing_subscribed_consent_without_the_flag_counts() -> None:
    assert profile_from_resource(resource({"marketing": marketing("subscribed", None)})) \
        .can_receive_sms is True


def test_s1_a_transactional_only_subscriber_can_receive_sms() -> None:
    sms = {"marketing": marketing("NEVER_SUBSCRIBED", False),
           "transactional": transactional("SUBSCRIBED", True)}
    assert profile_from_resource(resource(sms)).can_receive_sms is True


@pytest.mark.parametrize("consent", ["UNSUBSCRIBED", "NEVER_SUBSCRIBED"])
def test_s1_a_profile_without_sms_consent_cannot_receive_sms(consent: str) -> None:
    sms = {"marketing": marketing(consent, False), "transactional": transactional(consent, False)}
    assert profile_from_resource(resource(sms)).can_receive_sms is False


def test_s1_klaviyos_can_receive_flag_overrides_a_subscribed_consent() -> None:
    """e.g. a number Klaviyo can no longer text: consent says SUBSCRIBED, the flag says no."""
    sms = {"marketing": marketing("SUBSCRIBED", False)}
    assert profile_from_resource(resource(sms)).can_receive_sms is False


@pytest.mark.parametrize("res", [resource(None), resource({}), resource(subscriptions=False),
                                 resource({"marketing": None, "transactional": None})],
                         ids=["sms-null", "sms-empty", "no-subscriptions", "channels-null"])
def test_s1_a_profile_with_missing_subscriptions_cannot_receive_sms(res: dict[str, Any]) -> None:
    assert profile_from_resource(res).can_receive_sms is False


def test_empty_fields_become_none_and_the_phone_is_normalised() -> None:
    p = profile_from_resource(resource({"marketing": marketing("SUBSCRIBED", True)}, email="",
                                       first_name=None, last_name="",
                                       phone_number="1 555 123 4567"))
    assert (p.email, p.first_name, p.last_name, p.display_name, p.phone) == (
        None, None, None, None, "+15551234567")


def test_a_profile_without_attributes_is_read_as_unknown_and_not_consenting() -> None:
    p = profile_from_resource({"type": "profile", "id": "01J"})
    assert (p.email, p.phone, p.can_receive_sms) == (None, None, False)
