"""The inbound SMS handler with fakes (S1-S7, E1): a customer's text, stored as the receiver
stores it, is run by its task and lands in Zendesk, or does not, as the rules say."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bridge.domain.sms_rules import Policy
from bridge.errors import FailedAttempt, RateLimited, Retryable
from bridge.handlers.sms_inbound import InboundDeps, handle_inbound
from tests import fakes
from tests.factories import (
    ALICE,
    LONG_CODE,
    SHORT_CODE,
    TOLL_FREE,
    later,
    profile,
    receive,
    sent_sms,
)
from tests.fakes import Clock, FakeKlaviyo, FakeZendesk

ORDER = "Where is my order #1001?"


@pytest.fixture
def klaviyo() -> FakeKlaviyo:
    return FakeKlaviyo(profile(ALICE))


@pytest.fixture
def deps(zendesk: FakeZendesk, klaviyo: FakeKlaviyo, clock: Clock) -> InboundDeps:
    return InboundDeps(store=fakes.store(), zendesk=zendesk, klaviyo=klaviyo,
                       policy=Policy(custom_keywords=frozenset({"VIP"})),
                       clock=clock, sleep=clock.sleep)


def text(deps: InboundDeps, body: str = ORDER, **item: object) -> str:
    """The customer texts the brand now; the text's task runs. Returns the handler's answer."""
    item.setdefault("sent_at", datetime.fromtimestamp(deps.clock(), UTC))
    ref = receive(deps.store, sent_sms(body, **item), deps.clock())  # type: ignore[arg-type]
    return handle_inbound(ref, deps)


def only_ticket(zendesk: FakeZendesk) -> dict:
    [ticket] = zendesk.tickets.values()
    return ticket


def agent_sets_status(deps: InboundDeps, zendesk: FakeZendesk, ticket_id: int,
                      status: str) -> None:
    """An agent changes the status; the status webhook keeps the cached conversation in step."""
    zendesk.tickets[ticket_id]["status"] = status
    deps.store.conversations.set_ticket_status(ticket_id, ALICE, TOLL_FREE, status)


def timeout(applied: bool) -> Retryable:
    error = Retryable("zendesk", "read timed out")
    error.maybe_applied = applied
    return error


# --- S1 consent ---------------------------------------------------------------------------------
def test_a_text_from_a_profile_without_sms_consent_is_dropped_before_zendesk(
        deps: InboundDeps, zendesk: FakeZendesk, klaviyo: FakeKlaviyo) -> None:
    klaviyo.profiles = {p.id: p for p in [profile(ALICE, consented=False)]}
    assert text(deps) == "done"
    assert zendesk.tickets == {} and sum(zendesk.calls.values()) == 0
    assert deps.store.outcomes.counters()["inbound_sms:dropped:not_consented"] == 1


def test_a_text_from_a_profile_klaviyo_does_not_know_is_dropped_as_not_consented(
        deps: InboundDeps, zendesk: FakeZendesk, klaviyo: FakeKlaviyo) -> None:
    klaviyo.profiles = {}
    text(deps)
    assert zendesk.tickets == {}
    assert deps.store.outcomes.counters()["inbound_sms:dropped:not_consented"] == 1


# --- S2 keywords --------------------------------------------------------------------------------
@pytest.mark.parametrize("body", ["STOP", "stop!", " Start ", "vip", "UNSUBSCRIBE.",
                                  "please cancel my order"])
def test_a_subscription_keyword_never_reaches_zendesk(deps: InboundDeps, zendesk: FakeZendesk,
                                                      body: str) -> None:
    text(deps, body)
    assert zendesk.tickets == {} and sum(zendesk.calls.values()) == 0


def test_a_keyword_sent_to_an_open_ticket_never_becomes_a_comment(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    text(deps, ORDER)
    text(deps, "STOP")
    assert zendesk.comments_on(only_ticket(zendesk)["id"]) == [ORDER]


@pytest.mark.parametrize("body", ["HELP", "info."])
def test_help_and_info_do_become_tickets(deps: InboundDeps, zendesk: FakeZendesk,
                                         body: str) -> None:
    text(deps, body)
    assert zendesk.comments_on(only_ticket(zendesk)["id"]) == [body]


def test_an_opt_out_on_an_open_ticket_leaves_one_note_saying_the_customer_unsubscribed(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    text(deps, ORDER)
    text(deps, "STOP")
    ticket_id = only_ticket(zendesk)["id"]
    assert zendesk.comments_on(ticket_id) == [ORDER]
    assert len(zendesk.notes_on(ticket_id)) == 1
    assert "unsubscribed" in zendesk.notes_on(ticket_id)[0].lower()


# --- S3 numbers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("brand", "reason"), [("ACME", "branded_sender"),
                                               ("Acme Shoes", "branded_sender"),
                                               ("12", "invalid_brand_number")])
def test_a_text_naming_a_number_that_cannot_receive_texts_is_dropped(
        deps: InboundDeps, zendesk: FakeZendesk, brand: str, reason: str) -> None:
    text(deps, brand=brand)
    assert zendesk.tickets == {}
    assert deps.store.outcomes.counters()[f"inbound_sms:dropped:{reason}"] == 1


@pytest.mark.parametrize("brand", [TOLL_FREE, LONG_CODE, SHORT_CODE])
def test_texts_to_toll_free_long_and_short_codes_become_tickets(
        deps: InboundDeps, zendesk: FakeZendesk, brand: str) -> None:
    text(deps, brand=brand)
    assert only_ticket(zendesk)["external_id"] == f"zkb-sms:{ALICE}:{brand}"


# --- S4 threading -------------------------------------------------------------------------------
def test_a_first_text_creates_the_requester_and_a_ticket_holding_the_text(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    text(deps, ORDER)
    [customer] = zendesk.users.values()
    assert (customer["name"], customer["phone"], customer["external_id"]) == (
        "Alice Archer", ALICE, f"sms:{ALICE}")
    ticket = only_ticket(zendesk)
    assert ticket["requester_id"] == customer["id"]
    assert zendesk.comments(ticket["id"])[0].author_id == customer["id"]
    assert zendesk.comments_on(ticket["id"]) == [ORDER]


def test_a_customer_with_an_email_is_matched_to_their_existing_zendesk_user(
        deps: InboundDeps, zendesk: FakeZendesk, klaviyo: FakeKlaviyo) -> None:
    klaviyo.profiles = {p.id: p for p in [profile(ALICE, email="alice@example.com")]}
    known = zendesk.add_user("Alice A.", email="alice@example.com")
    text(deps)
    assert only_ticket(zendesk)["requester_id"] == known
    assert list(zendesk.users) == [known]


@pytest.mark.parametrize(("status", "after"), [
    ("new", "open"), ("open", "open"), ("pending", "open"),
    ("solved", "open"),            # a solved ticket is reopened by a new text
    ("hold", "hold"),              # on hold: the comment is added, the status kept
])
def test_a_text_to_a_not_closed_ticket_becomes_a_comment_with_the_s4_status(
        deps: InboundDeps, zendesk: FakeZendesk, status: str, after: str) -> None:
    text(deps, ORDER)
    ticket = only_ticket(zendesk)
    agent_sets_status(deps, zendesk, ticket["id"], status)
    text(deps, "It was due Friday")
    assert zendesk.comments_on(ticket["id"]) == [ORDER, "It was due Friday"]
    assert ticket["status"] == after


def test_a_text_after_the_ticket_closed_opens_a_follow_up_ticket(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    text(deps, ORDER)
    first = only_ticket(zendesk)
    agent_sets_status(deps, zendesk, first["id"], "closed")
    text(deps, "New problem")
    [follow_up] = [t for t in zendesk.tickets.values() if t["id"] != first["id"]]
    assert follow_up["via_followup_source_id"] == first["id"]
    assert zendesk.comments_on(follow_up["id"]) == ["New problem"]
    assert zendesk.comments_on(first["id"]) == [ORDER]


def test_a_ticket_closed_since_it_was_cached_gets_a_follow_up_instead_of_a_comment(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    text(deps, ORDER)
    first = only_ticket(zendesk)
    first["status"] = "closed"          # closed in Zendesk; its webhook has not arrived yet
    assert text(deps, "Hello again") == "done"
    [follow_up] = [t for t in zendesk.tickets.values() if t["id"] != first["id"]]
    assert follow_up["via_followup_source_id"] == first["id"]
    assert zendesk.comments_on(follow_up["id"]) == ["Hello again"]


def test_a_ticket_deleted_since_it_was_cached_is_replaced_by_a_new_ticket(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    text(deps, ORDER)
    del zendesk.tickets[only_ticket(zendesk)["id"]]
    text(deps, "Hello again")
    replacement = only_ticket(zendesk)
    assert "via_followup_source_id" not in replacement
    assert zendesk.comments_on(replacement["id"]) == ["Hello again"]


def test_a_lost_conversation_cache_is_rebuilt_from_zendesk_without_a_second_ticket(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    text(deps, ORDER)
    deps.store = fakes.store()          # Redis lost everything
    text(deps, "Still waiting")
    assert zendesk.comments_on(only_ticket(zendesk)["id"]) == [ORDER, "Still waiting"]


def test_texts_to_two_brand_numbers_are_two_conversations(deps: InboundDeps,
                                                          zendesk: FakeZendesk) -> None:
    text(deps, "To the toll-free number", brand=TOLL_FREE)
    text(deps, "To the short code", brand=SHORT_CODE)
    assert sorted(zendesk.comments_on(t) for t in zendesk.tickets) == [
        ["To the short code"], ["To the toll-free number"]]


# --- S5 ticket shape ----------------------------------------------------------------------------
def test_a_new_tickets_subject_masks_the_customers_phone(deps: InboundDeps,
                                                         zendesk: FakeZendesk) -> None:
    text(deps)
    assert only_ticket(zendesk)["subject"] == "SMS from +1••••••0101"


def test_a_readable_subject_template_names_the_profile_and_starts_the_text(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    deps.policy = replace(deps.policy, subject_template="{name}: {first_words}")
    text(deps, "Hi there, my parcel came without the charger")
    assert only_ticket(zendesk)["subject"] == "Alice Archer: Hi there, my parcel came without…"


def test_new_tickets_carry_the_sms_tag_and_the_configured_tags_group_and_brand(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    deps.tags, deps.group_id, deps.brand_id = ("vip", "us"), 7, 8
    text(deps)
    ticket = only_ticket(zendesk)
    assert (ticket["tags"], ticket["group_id"], ticket["brand_id"]) == (["sms", "vip", "us"], 7, 8)


# --- S6 media -----------------------------------------------------------------------------------
def test_a_picture_with_text_syncs_the_text_and_notes_the_media_was_omitted(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    text(deps, "This arrived broken", media=("https://klaviyo/img.jpg",))
    [comment] = zendesk.comments_on(only_ticket(zendesk)["id"])
    assert comment.startswith("This arrived broken")
    assert "media is not carried over" in comment


def test_a_picture_only_message_still_makes_a_comment_saying_so(deps: InboundDeps,
                                                               zendesk: FakeZendesk) -> None:
    assert text(deps, "", media=("https://klaviyo/a.gif", "https://klaviyo/b.jpg")) == "done"
    [comment] = zendesk.comments_on(only_ticket(zendesk)["id"])
    assert "2 picture/media attachments" in comment


# --- S7 order -----------------------------------------------------------------------------------
def test_texts_are_applied_in_send_order_even_when_the_later_ones_task_runs_first(
        deps: InboundDeps, zendesk: FakeZendesk, clock: Clock) -> None:
    first = receive(deps.store, sent_sms("one", sent_at=later(1)), clock())
    second = receive(deps.store, sent_sms("two", sent_at=later(2)), clock())
    handle_inbound(second, deps)
    assert handle_inbound(first, deps) == "already_done"
    assert zendesk.comments_on(only_ticket(zendesk)["id"]) == ["one", "two"]


def test_a_text_delivered_after_a_later_one_still_goes_first(
        deps: InboundDeps, zendesk: FakeZendesk, clock: Clock) -> None:
    late = receive(deps.store, sent_sms("two", sent_at=later(2.000002)), clock())
    receive(deps.store, sent_sms("one", sent_at=later(2.000001)), clock())
    handle_inbound(late, deps)
    assert zendesk.comments_on(only_ticket(zendesk)["id"]) == ["one", "two"]


def test_a_text_that_lands_while_a_later_one_settles_is_applied_first(
        deps: InboundDeps, zendesk: FakeZendesk, clock: Clock) -> None:
    def sleep(seconds: float) -> None:        # the earlier text's delivery lands meanwhile
        clock.sleep(seconds)
        if not landed:
            landed.append(receive(deps.store, sent_sms("one", sent_at=later(1)), clock()))
    landed: list[str] = []
    deps.sleep = sleep
    second = receive(deps.store, sent_sms("two", sent_at=later(2)), clock())
    handle_inbound(second, deps)
    assert zendesk.comments_on(only_ticket(zendesk)["id"]) == ["one", "two"]


def test_the_same_text_delivered_twice_becomes_one_comment(deps: InboundDeps,
                                                           zendesk: FakeZendesk,
                                                           clock: Clock) -> None:
    item = sent_sms("only once")
    refs = [receive(deps.store, item, clock()) for _ in range(2)]
    for ref in refs:
        handle_inbound(ref, deps)
    assert zendesk.comments_on(only_ticket(zendesk)["id"]) == ["only once"]


# --- E1 crash windows ---------------------------------------------------------------------------
def test_a_ticket_post_that_timed_out_after_creating_the_ticket_is_not_repeated(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    zendesk.fail_next("create_ticket", timeout(applied=True), applied=True)
    ref = receive(deps.store, sent_sms(ORDER), deps.clock())
    with pytest.raises(FailedAttempt):
        handle_inbound(ref, deps)
    handle_inbound(ref, deps)
    assert zendesk.comments_on(only_ticket(zendesk)["id"]) == [ORDER]


def test_a_rerun_after_zendesks_idempotency_window_finds_the_ticket_by_its_first_comment(
        deps: InboundDeps, zendesk: FakeZendesk, clock: Clock) -> None:
    zendesk.fail_next("create_ticket", timeout(applied=True), applied=True)
    ref = receive(deps.store, sent_sms(ORDER), clock())
    with pytest.raises(FailedAttempt):
        handle_inbound(ref, deps)
    clock.advance(3 * 3600)             # Zendesk has forgotten the Idempotency-Key
    handle_inbound(ref, deps)
    assert zendesk.comments_on(only_ticket(zendesk)["id"]) == [ORDER]


@pytest.mark.parametrize("landed", [True, False], ids=["after_landing", "before_landing"])
def test_a_comment_whose_put_timed_out_is_on_the_ticket_once_after_the_rerun(
        deps: InboundDeps, zendesk: FakeZendesk, landed: bool) -> None:
    text(deps, ORDER)
    zendesk.fail_next("update_ticket", timeout(applied=landed), applied=landed)
    ref = receive(deps.store, sent_sms("Hello?"), deps.clock())
    with pytest.raises(FailedAttempt):
        handle_inbound(ref, deps)
    handle_inbound(ref, deps)
    assert zendesk.comments_on(only_ticket(zendesk)["id"]) == [ORDER, "Hello?"]


def test_on_a_150_comment_ticket_a_lost_put_is_found_on_the_newest_page_not_posted_twice(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    """E1 on a chatty conversation (#14): the write's comment is past the first page in
    Zendesk's default order, so the re-run reads newest first (one page here)."""
    text(deps, ORDER)
    tid = only_ticket(zendesk)["id"]
    for i in range(148):
        zendesk._comment(tid, {"body": f"message {i}", "author_id": 1})   # the agent
    zendesk.fail_next("update_ticket", timeout(applied=True), applied=True)
    ref = receive(deps.store, sent_sms("Hello?"), deps.clock())
    with pytest.raises(FailedAttempt):
        handle_inbound(ref, deps)
    handle_inbound(ref, deps)
    bodies = zendesk.comments_on(tid)
    assert len(bodies) == 150 and bodies.count("Hello?") == 1
    assert zendesk.calls["comments_newest_first"] == 1


@pytest.mark.parametrize("before", [(ORDER, "ok"), ("ok",)],
                         ids=["an_earlier_identical_text", "the_tickets_first_text"])
def test_a_repeated_text_whose_put_never_landed_is_still_posted(
        deps: InboundDeps, zendesk: FakeZendesk, before: tuple[str, ...]) -> None:
    """Neither an earlier identical text nor the ticket's first comment is taken for the
    write that never landed (E1)."""
    for body in before:
        text(deps, body)
    zendesk.fail_next("update_ticket", timeout(applied=False))
    ref = receive(deps.store, sent_sms("ok"), deps.clock())
    with pytest.raises(FailedAttempt):
        handle_inbound(ref, deps)
    handle_inbound(ref, deps)
    assert zendesk.comments_on(only_ticket(zendesk)["id"]) == [*before, "ok"]


def test_a_rate_limited_comment_is_posted_on_retry_without_reading_the_tickets_comments(
        deps: InboundDeps, zendesk: FakeZendesk) -> None:
    text(deps, ORDER)
    zendesk.fail_next("update_ticket", RateLimited("zendesk", 30))
    ref = receive(deps.store, sent_sms("Hello?"), deps.clock())
    with pytest.raises(RateLimited):
        handle_inbound(ref, deps)
    handle_inbound(ref, deps)
    assert zendesk.comments_on(only_ticket(zendesk)["id"]) == [ORDER, "Hello?"]
    assert zendesk.calls["comments"] == 0
