"""Agent-reply rules A1-A4 and A7 as pure functions: which comments may become an SMS, and what
the agent is told instead. No Redis, no HTTP, no clock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridge.domain.decisions import Drop
from bridge.domain.model import Profile
from bridge.domain.reply_rules import (
    AgentComment,
    NoteInstead,
    SendReply,
    campaign_note,
    decide_reply,
    prescreen,
    screen_comment,
)

AGENT, CUSTOMER = 900, 84473


def comment(text: str = "Your order shipped today.", *, author: int | None = AGENT,
            staff: bool = True, public: bool = True, attachments: int = 0,
            requester: int | None = CUSTOMER) -> AgentComment:
    return AgentComment(ticket_id=5158, comment_id=7001, author_id=author,
                        author_is_staff=staff, public=public, text=text, body=text,
                        attachment_count=attachments, requester_id=requester)


def profile(email: str | None = "ana@example.com", *, can_receive_sms: bool = True) -> Profile:
    return Profile(id="01PROFILE", email=email, phone="+15551234567", first_name="Ana",
                   last_name=None, can_receive_sms=can_receive_sms)


def screened(c: AgentComment, *, sms_ticket: bool = True,
             written_by_bridge: bool = False) -> Drop | None:
    return screen_comment(c, sms_ticket=sms_ticket, written_by_bridge=written_by_bridge)


# --- A1 which comments are replies ------------------------------------------------------------

def test_a1_a_public_staff_comment_on_an_sms_ticket_is_a_reply() -> None:
    assert screened(comment()) is None


def test_a1_a_comment_on_a_ticket_that_is_no_sms_conversation_is_dropped() -> None:
    assert screened(comment(), sms_ticket=False) == Drop("not_sms_ticket")


def test_a1_an_internal_note_is_never_sent() -> None:
    assert screened(comment(public=False)) == Drop("internal_note")


def test_a1_the_customers_own_comment_is_not_sent_back_to_them() -> None:
    assert screened(comment(author=CUSTOMER, staff=False)) == Drop("customer_comment")


def test_a1_a_public_comment_by_another_end_user_is_not_sent() -> None:
    assert screened(comment(author=555, staff=False)) == Drop("not_staff")


def test_a1_an_empty_comment_without_attachments_is_dropped() -> None:
    assert screened(comment("  \n ")) == Drop("empty_comment")


def test_a1_an_attachment_only_comment_passes_screening_so_the_agent_gets_a_note() -> None:
    assert screened(comment("", attachments=1)) is None


@pytest.mark.parametrize("c", [comment(), comment("", attachments=1), comment("  "),
                               comment(author=CUSTOMER, staff=True)],
                         ids=["public-staff", "attachment-only", "empty", "staff-requester"])
def test_e6_the_receiver_keeps_every_public_staff_comment_for_the_worker(c: AgentComment) -> None:
    """What the payload alone cannot settle (empty, the bridge's own, A3) is the worker's."""
    assert prescreen(c) is None


@pytest.mark.parametrize(("c", "reason"), [
    (comment(public=False), "internal_note"),
    (comment(author=CUSTOMER, staff=False), "customer_comment"),
    (comment(author=555, staff=False), "not_staff"),
    (comment(author=None, staff=False), "not_staff")])
def test_e6_the_receiver_drops_what_screening_would_for_the_same_reason(
        c: AgentComment, reason: str) -> None:
    assert prescreen(c) == Drop(reason) == screened(c)


# --- A2 echo ----------------------------------------------------------------------------------

@pytest.mark.parametrize("c", [comment(), comment(public=False),
                               comment(author=CUSTOMER, staff=True)],
                         ids=["public-staff", "note", "staff-requester"])
def test_a2_a_comment_the_bridge_wrote_is_never_sent_back(c: AgentComment) -> None:
    assert screened(c, written_by_bridge=True) == Drop("own_comment")


def test_a2_a3_an_agent_who_is_the_requester_is_not_dropped_by_screening() -> None:
    """Their typed replies must reach A3 (a note), so `is_staff` alone is no echo guard."""
    assert screened(comment(author=CUSTOMER, staff=True, requester=CUSTOMER)) is None


# --- A3 same email ----------------------------------------------------------------------------

@pytest.mark.parametrize("agent_email", ["ana@example.com", "Ana@Example.COM",
                                         "  ana@example.com ", "ANA@EXAMPLE.COM\n"])
def test_a3_a_reply_from_the_customers_own_email_becomes_a_note(agent_email: str) -> None:
    decision = decide_reply(comment(), agent_email=agent_email, profile=profile())
    assert isinstance(decision, NoteInstead)
    assert decision.reason == "same_email"
    assert "A3" in decision.note


def test_a3_a_different_agent_email_is_sent() -> None:
    decision = decide_reply(comment(), agent_email="bo@shop.test", profile=profile())
    assert decision == SendReply("Your order shipped today.")


@pytest.mark.parametrize(("agent_email", "customer_email"),
                         [(None, "ana@example.com"), ("", "ana@example.com"),
                          ("bo@shop.test", None)])
def test_a3_an_unknown_email_on_either_side_is_no_match(agent_email: str | None,
                                                        customer_email: str | None) -> None:
    decision = decide_reply(comment(), agent_email=agent_email, profile=profile(customer_email))
    assert isinstance(decision, SendReply)


def test_a3_same_email_is_reported_even_when_the_customer_also_opted_out() -> None:
    decision = decide_reply(comment(), agent_email="ana@example.com",
                            profile=profile(can_receive_sms=False))
    assert isinstance(decision, NoteInstead) and decision.reason == "same_email"


# --- A4 consent at send time, attachments -----------------------------------------------------

def test_a4_a_customer_who_opted_out_gets_no_sms_and_the_agent_a_note() -> None:
    decision = decide_reply(comment(), agent_email="bo@shop.test",
                            profile=profile(can_receive_sms=False))
    assert isinstance(decision, NoteInstead)
    assert decision.reason == "not_consented"
    assert "A4" in decision.note


def test_a4_a_customer_without_a_klaviyo_profile_counts_as_not_consented() -> None:
    decision = decide_reply(comment(), agent_email="bo@shop.test", profile=None)
    assert isinstance(decision, NoteInstead) and decision.reason == "not_consented"


def test_a4_an_attachment_only_reply_becomes_a_note_naming_the_attachments() -> None:
    decision = decide_reply(comment(" ", attachments=2), agent_email="bo@shop.test",
                            profile=profile())
    assert isinstance(decision, NoteInstead)
    assert decision.reason == "attachment_only"
    assert "2 attachments" in decision.note


def test_a4_text_with_attachments_is_sent_and_the_note_says_the_files_were_not() -> None:
    decision = decide_reply(comment("See the label", attachments=1), agent_email="bo@shop.test",
                            profile=profile())
    assert isinstance(decision, SendReply)
    assert decision.text == "See the label"
    assert decision.note is not None and "1 attachment" in decision.note
    assert "sent as an SMS" in decision.note


def test_a4_a_reply_without_attachments_carries_no_note() -> None:
    decision = decide_reply(comment(), agent_email=None, profile=profile())
    assert isinstance(decision, SendReply) and decision.note is None


@pytest.mark.parametrize("decision", [
    decide_reply(comment(), agent_email="ana@example.com", profile=profile()),
    decide_reply(comment(), agent_email=None, profile=None),
    decide_reply(comment("", attachments=1), agent_email=None, profile=profile()),
    decide_reply(comment("hi", attachments=3), agent_email=None, profile=profile()),
], ids=["same-email", "not-consented", "attachment-only", "attachments-note"])
def test_every_note_is_marked_as_the_bridges(decision: SendReply | NoteInstead) -> None:
    assert decision.note is not None and decision.note.startswith("[zkbridge] ")


def test_a5_the_reply_text_is_sent_whole() -> None:
    long_text = "word " * 400
    decision = decide_reply(replace(comment(), text=long_text), agent_email=None,
                            profile=profile())
    assert isinstance(decision, SendReply) and decision.text == long_text


# --- A7 campaign and flow SMS as notes --------------------------------------------------------

def test_a7_a_campaign_sms_is_noted_with_the_campaign_name() -> None:
    assert campaign_note("Black Friday", None, "20% off") == \
        "Klaviyo campaign 'Black Friday' sent: 20% off"


def test_a7_a_flow_sms_is_noted_with_the_flow_name() -> None:
    assert campaign_note(None, "Welcome", "Hi there") == "Klaviyo flow 'Welcome' sent: Hi there"


def test_a7_a_message_from_both_is_named_by_its_campaign() -> None:
    assert campaign_note("Launch", "Welcome", "New!") == "Klaviyo campaign 'Launch' sent: New!"


@pytest.mark.parametrize(("campaign", "flow"), [(None, None), ("", ""), (None, "")])
def test_a7_a_conversation_reply_is_no_marketing_and_makes_no_note(campaign: str | None,
                                                                   flow: str | None) -> None:
    assert campaign_note(campaign, flow, "Your order shipped") is None
