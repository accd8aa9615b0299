"""Inbound SMS rules S1-S6 as pure functions: no Redis, no HTTP, no clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bridge.domain.decisions import AddComment, CreateTicket, Drop
from bridge.domain.model import Conversation, InboundSms, Profile
from bridge.domain.sms_rules import (
    Policy,
    check_consent,
    comment_body,
    decide_inbound,
    keyword_kind,
    screen,
    status_after_comment,
    ticket_subject,
)

CUSTOMER = "+15551234567"
LONG_CODE = "+14155550123"
CONTAINS = Policy()
EXACT = Policy(opt_out_match="exact")


def sms(body: str = "Where is my order?", *, brand: str = LONG_CODE, phone: str | None = CUSTOMER,
        media: int = 0) -> InboundSms:
    return InboundSms(event_id="ev1", profile_id="01PROFILE", customer_phone=phone,
                      brand_number=brand, body=body, media_count=media,
                      sent_at=datetime(2026, 11, 25, 10, 12, 7, 123456, tzinfo=UTC))


def conversation(ticket_id: int | None = 5158, status: str | None = "open") -> Conversation:
    return Conversation(phone=CUSTOMER, brand_number=LONG_CODE, ticket_id=ticket_id,
                        ticket_status=status, requester_id=84473)


def profile(can_receive_sms: bool) -> Profile:
    return Profile(id="01PROFILE", email="ana@example.com", phone=CUSTOMER, first_name="Ana",
                   last_name=None, can_receive_sms=can_receive_sms)


# --- S2 keywords ----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["STOP", "stop", " Stop! ", "STOPALL", "UNSUBSCRIBE", "CANCEL",
                                  "END", "QUIT", "REVOKE", "OPTOUT", "quit.", "Unsubscribe?!"])
@pytest.mark.parametrize("policy", [CONTAINS, EXACT], ids=["contains", "exact"])
def test_s2_standard_opt_out_words_are_opt_outs_in_either_mode(text: str, policy: Policy) -> None:
    assert keyword_kind(text, policy) == "opt_out"


def test_s2_an_opt_out_word_inside_a_sentence_is_an_opt_out_in_contains_mode() -> None:
    assert keyword_kind("please cancel my order", CONTAINS) == "opt_out"


def test_s2_an_opt_out_word_inside_a_sentence_is_only_a_text_in_exact_mode() -> None:
    assert keyword_kind("please cancel my order", EXACT) is None


def test_s2_contains_mode_matches_whole_words_not_parts_of_words() -> None:
    """"weekend" holds END and "stopped" holds STOP, but neither is the word."""
    assert keyword_kind("Is the shop open this weekend?", CONTAINS) is None
    assert keyword_kind("My parcel stopped moving", CONTAINS) is None


def test_s2_stop_inside_a_sentence_is_an_opt_out_even_in_exact_mode() -> None:
    """US carriers require STOP anywhere in a text to work (ALWAYS_CONTAINS)."""
    assert keyword_kind("Please STOP texting me", EXACT) == "opt_out"
    assert keyword_kind("ok stop.", EXACT) == "opt_out"


@pytest.mark.parametrize("text", ["START", "UNSTOP", "YES", "Y", "JOIN", "yes", " y! ", "Join."])
def test_s2_opt_in_words_are_opt_ins(text: str) -> None:
    assert keyword_kind(text, CONTAINS) == "opt_in"


def test_s2_an_opt_in_word_inside_a_sentence_is_an_ordinary_text() -> None:
    assert keyword_kind("yes I still want the blue one", CONTAINS) is None


@pytest.mark.parametrize("text", ["VIP", "vip", " Vip! ", "sale.", "SALE?"])
def test_s2_brand_keywords_match_ignoring_case_spaces_and_trailing_punctuation(text: str) -> None:
    policy = Policy(custom_keywords=frozenset({"VIP", "SALE"}))
    assert keyword_kind(text, policy) == "custom"


def test_s2_a_brand_keyword_inside_a_sentence_is_an_ordinary_text() -> None:
    policy = Policy(custom_keywords=frozenset({"VIP"}))
    assert keyword_kind("am I a vip customer", policy) is None


@pytest.mark.parametrize("text", ["HELP", "help!", "Info.", "INFO", " Help "])
def test_s2_help_and_info_are_recognised_as_help(text: str) -> None:
    assert keyword_kind(text, CONTAINS) == "help"


@pytest.mark.parametrize("text", ["HELP", "help!", "Info.", "INFO"])
def test_s2_help_and_info_texts_still_create_tickets(text: str) -> None:
    assert screen(sms(text), CONTAINS) is None


@pytest.mark.parametrize("text", ["Where is my order?", "", "   ", "!!!"])
def test_s2_an_ordinary_text_is_no_keyword(text: str) -> None:
    assert keyword_kind(text, CONTAINS) is None


@pytest.mark.parametrize(("text", "policy", "reason"), [
    ("STOP", CONTAINS, "keyword_opt_out"),
    ("please cancel my order", CONTAINS, "keyword_opt_out"),
    ("START", CONTAINS, "keyword_opt_in"),
    ("vip!", Policy(custom_keywords=frozenset({"VIP"})), "keyword_custom"),
])
def test_s2_keyword_texts_never_reach_zendesk(text: str, policy: Policy, reason: str) -> None:
    assert screen(sms(text), policy) == Drop(reason)


def test_s2_s6_a_picture_only_message_is_not_mistaken_for_a_keyword() -> None:
    assert screen(sms("", media=1), CONTAINS) is None


def test_s2_a_keyword_with_a_picture_is_still_a_keyword() -> None:
    assert screen(sms("STOP", media=1), CONTAINS) == Drop("keyword_opt_out")


# --- screen: sync switch and S3 numbers -----------------------------------------------------

def test_nothing_reaches_zendesk_while_sms_sync_is_disabled() -> None:
    assert screen(sms(), Policy(sync_enabled=False)) == Drop("sync_disabled")


def test_s3_a_branded_sender_id_is_dropped() -> None:
    assert screen(sms(brand="ACME"), CONTAINS) == Drop("branded_sender")


@pytest.mark.parametrize("brand", ["12345", "123456", "+18005550100", LONG_CODE, "+447700900123"],
                         ids=["short-code", "6-digit-short-code", "toll-free", "us-long-code",
                              "uk-long-code"])
def test_s3_short_codes_toll_free_numbers_and_long_codes_are_handled(brand: str) -> None:
    assert screen(sms(brand=brand), CONTAINS) is None


@pytest.mark.parametrize("brand", ["", "   ", "123", "+1", "1234567"])
def test_s3_a_brand_number_that_is_no_number_is_dropped(brand: str) -> None:
    assert screen(sms(brand=brand), CONTAINS) == Drop("invalid_brand_number")


def test_a_text_without_a_from_number_passes_screening_for_the_profiles_phone() -> None:
    """API-NOTES: the customer is the From Number, else the profile's phone (looked up later)."""
    assert screen(sms(phone=None), CONTAINS) is None


def test_number_checks_come_before_keywords() -> None:
    """A STOP sent to a branded sender is counted as a branded sender, not an opt-out."""
    assert screen(sms("STOP", brand="ACME"), CONTAINS) == Drop("branded_sender")


# --- S1 consent -----------------------------------------------------------------------------

def test_s1_a_consenting_profile_passes() -> None:
    assert check_consent(profile(can_receive_sms=True)) is None


def test_s1_a_profile_that_cannot_receive_sms_is_dropped_as_not_consented() -> None:
    assert check_consent(profile(can_receive_sms=False)) == Drop("not_consented")


def test_s1_an_unknown_profile_is_dropped_as_not_consented() -> None:
    assert check_consent(None) == Drop("not_consented")


# --- S4 threading ---------------------------------------------------------------------------

def test_s4_the_first_text_of_a_conversation_creates_a_ticket() -> None:
    assert decide_inbound(conversation(ticket_id=None, status=None)) == CreateTicket()


@pytest.mark.parametrize("status", ["new", "open", "pending", "NEW", "OPEN", "PENDING"])
def test_s4_a_text_to_a_new_open_or_pending_ticket_is_a_comment_that_opens_it(status: str) -> None:
    assert decide_inbound(conversation(status=status)) == AddComment(5158, status="open")


@pytest.mark.parametrize("status", ["hold", "HOLD"])
def test_s4_a_text_to_a_ticket_on_hold_is_a_comment_that_keeps_it_on_hold(status: str) -> None:
    assert decide_inbound(conversation(status=status)) == AddComment(5158, status=None)


@pytest.mark.parametrize("status", ["solved", "SOLVED"])
def test_s4_solved_ticket_is_reopened_by_a_new_text(status: str) -> None:
    assert decide_inbound(conversation(status=status)) == AddComment(5158, status="open")


@pytest.mark.parametrize("status", ["closed", "CLOSED"])
def test_s4_a_text_after_the_ticket_closed_creates_a_follow_up_ticket(status: str) -> None:
    assert decide_inbound(conversation(status=status)) == CreateTicket(followup_of=5158)


def test_s4_a_text_after_the_ticket_was_deleted_creates_an_unlinked_ticket() -> None:
    assert decide_inbound(conversation(status="deleted")) == CreateTicket()


def test_s4_a_ticket_whose_status_is_not_cached_gets_the_comment_and_is_opened() -> None:
    assert decide_inbound(conversation(status=None)) == AddComment(5158, status="open")


def test_s4_the_cached_status_after_a_comment_follows_the_decision() -> None:
    assert status_after_comment(AddComment(5158, status="open"), "solved") == "open"
    assert status_after_comment(AddComment(5158, status=None), "hold") == "hold"


# --- S6 media, S5 subject -------------------------------------------------------------------

def test_s6_a_plain_text_becomes_the_comment_as_sent() -> None:
    assert comment_body(sms("  Where is my order?  ")) == "Where is my order?"


def test_s6_text_with_a_picture_keeps_the_text_and_notes_the_omitted_media() -> None:
    body = comment_body(sms("Here is the damage", media=1))
    assert body.startswith("Here is the damage\n\n")
    assert "1 picture/media attachment;" in body
    assert "not carried over" in body


def test_s6_several_pictures_are_counted_in_the_note() -> None:
    assert "3 picture/media attachments" in comment_body(sms("look", media=3))


@pytest.mark.parametrize("text", ["", "   "])
def test_s6_a_picture_only_message_still_makes_a_comment_saying_so(text: str) -> None:
    body = comment_body(sms(text, media=2))
    assert body.startswith("[The customer sent 2 picture/media attachments")


@pytest.mark.parametrize(("text", "media"), [("", 0), ("  ", 0), ("", 1), ("\n", 4), ("hi", 0)])
def test_s6_the_comment_body_is_never_empty(text: str, media: int) -> None:
    """Zendesk refuses a blank comment; an empty text must not become a failed job."""
    assert comment_body(sms(text, media=media)).strip()


def test_s5_the_subject_masks_the_customer_phone() -> None:
    subject = ticket_subject(sms(), CONTAINS)
    assert subject.startswith("SMS from +1")
    assert subject.endswith("4567")
    assert CUSTOMER not in subject
    assert "555123" not in subject


def test_s5_the_subject_template_may_name_the_brand_number() -> None:
    policy = replace(CONTAINS, subject_template="Text to {brand_number} from {masked_phone}")
    subject = ticket_subject(sms(brand="12345"), policy)
    assert subject.startswith("Text to 12345 from +1")
    assert CUSTOMER not in subject


READABLE = "{name}: {first_words}"


def test_s5_a_readable_subject_names_the_customer_and_starts_the_text() -> None:
    policy = replace(CONTAINS, subject_template=READABLE)
    text = sms(body="Hi, my order #1234 never arrived and the tracking link is dead")
    assert ticket_subject(text, policy, name="Alice Lee") == \
        "Alice Lee: Hi, my order #1234 never arrived…"


def test_s5_without_a_name_the_subject_falls_back_to_the_masked_phone() -> None:
    subject = ticket_subject(sms(body="where is it"), replace(CONTAINS, subject_template=READABLE))
    assert subject.endswith(": where is it") and CUSTOMER not in subject
    assert subject.startswith("+1")


def test_s5_first_words_of_a_long_word_or_a_picture_stay_short_and_say_what_came() -> None:
    policy = replace(CONTAINS, subject_template="{first_words}")
    assert ticket_subject(sms(body="x" * 90), policy) == "x" * 40 + "…"
    assert ticket_subject(sms(body="", media=1), policy) == "(picture)"
    assert ticket_subject(sms(body="short one"), policy) == "short one"
