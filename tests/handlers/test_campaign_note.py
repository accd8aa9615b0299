"""A7 with fakes: a Klaviyo campaign or flow SMS that reaches a customer with a not-closed SMS
ticket leaves one internal note on it; everything else that Klaviyo reports as received (the
conversation's own replies, the bridge's echoes, customers without a ticket) leaves nothing."""

from __future__ import annotations

import pytest

from bridge.domain.model import Conversation, conversation_external_id
from bridge.errors import FailedAttempt, Retryable
from bridge.handlers.campaign_note import CampaignDeps, runner
from tests import fakes
from tests.factories import ALICE, SHORT_CODE, TOLL_FREE, receive, received_sms
from tests.fakes import Clock, FakeZendesk

SALE = "Black Friday: 30% off everything"


@pytest.fixture
def deps(zendesk: FakeZendesk) -> CampaignDeps:
    return CampaignDeps(store=fakes.store(), zendesk=zendesk, clock=Clock())


def customer_has_ticket(deps: CampaignDeps, zendesk: FakeZendesk, status: str = "open",
                        brand: str = TOLL_FREE, cached: bool = True) -> int:
    """Alice's SMS conversation has a ticket in Zendesk (and, unless `cached`, in the cache)."""
    ticket_id = zendesk.add_ticket(status=status,
                                   external_id=conversation_external_id(ALICE, brand))
    if cached:
        deps.store.conversations.put_conversation(
            Conversation(ALICE, brand, ticket_id=ticket_id, ticket_status=status))
    return ticket_id


def delivered(deps: CampaignDeps, body: str = SALE, **item: object) -> str:
    """Klaviyo reports an SMS reached Alice; its task runs. Returns the handler's answer."""
    ref = receive(deps.store, received_sms(body, **item), deps.clock())  # type: ignore[arg-type]
    return runner(deps).run_event(ref)


def dropped(deps: CampaignDeps, reason: str) -> int:
    return deps.store.outcomes.counters().get(f"received_sms:dropped:{reason}", 0)


def test_a_campaign_sms_to_a_customer_with_an_open_ticket_leaves_one_internal_note(
        deps: CampaignDeps, zendesk: FakeZendesk) -> None:
    ticket_id = customer_has_ticket(deps, zendesk)
    delivered(deps, campaign="Black Friday")
    assert zendesk.notes == [(ticket_id, f"Klaviyo campaign 'Black Friday' sent: {SALE}")]
    assert zendesk.comments_on(ticket_id) == []
    assert zendesk.tickets[ticket_id]["status"] == "open"


def test_a_flow_sms_is_noted_with_the_flows_name(deps: CampaignDeps,
                                                 zendesk: FakeZendesk) -> None:
    ticket_id = customer_has_ticket(deps, zendesk, status="pending")
    delivered(deps, "Your cart misses you", flow="Abandoned cart")
    assert zendesk.notes_on(ticket_id) == [
        "Klaviyo flow 'Abandoned cart' sent: Your cart misses you"]


def test_a_campaign_from_another_brand_number_is_noted_on_the_customers_ticket(
        deps: CampaignDeps, zendesk: FakeZendesk) -> None:
    ticket_id = customer_has_ticket(deps, zendesk, brand=TOLL_FREE)
    delivered(deps, brand=SHORT_CODE, campaign="Black Friday")
    assert len(zendesk.notes_on(ticket_id)) == 1


def test_a_campaign_delivered_twice_leaves_one_note(deps: CampaignDeps,
                                                   zendesk: FakeZendesk) -> None:
    customer_has_ticket(deps, zendesk)
    item = received_sms(SALE, campaign="Black Friday")
    for _ in range(2):
        runner(deps).run_event(receive(deps.store, item, deps.clock()))
    assert len(zendesk.notes) == 1


def test_a_note_that_timed_out_after_landing_is_not_added_twice(deps: CampaignDeps,
                                                               zendesk: FakeZendesk) -> None:
    customer_has_ticket(deps, zendesk)
    error = Retryable("zendesk", "read timed out")
    error.maybe_applied = True
    zendesk.fail_next("add_note", error, applied=True)
    ref = receive(deps.store, received_sms(SALE, campaign="Black Friday"), deps.clock())
    with pytest.raises(FailedAttempt):
        runner(deps).run_event(ref)
    runner(deps).run_event(ref)
    assert len(zendesk.notes) == 1


def test_a_conversation_reply_is_not_noted(deps: CampaignDeps, zendesk: FakeZendesk) -> None:
    customer_has_ticket(deps, zendesk)
    delivered(deps, "Your parcel left today")       # typed in Klaviyo's inbox: no campaign
    assert zendesk.notes == [] and sum(zendesk.calls.values()) == 0
    assert dropped(deps, "conversation_reply") == 1


def test_the_bridges_own_reply_coming_back_is_not_noted(deps: CampaignDeps,
                                                        zendesk: FakeZendesk) -> None:
    customer_has_ticket(deps, zendesk)
    deps.store.ledger.remember_sent_text(ALICE, "It ships Monday")    # an agent's reply, sent
    delivered(deps, "It ships Monday")
    delivered(deps, "It ships Monday", campaign="Mislabelled echo")
    assert zendesk.notes == [] and sum(zendesk.calls.values()) == 0
    assert dropped(deps, "own_reply") == 1


def test_a_customer_without_a_ticket_gets_no_note_and_no_ticket(deps: CampaignDeps,
                                                                zendesk: FakeZendesk) -> None:
    delivered(deps, campaign="Black Friday")
    assert zendesk.tickets == {} and zendesk.notes == []
    assert dropped(deps, "no_open_ticket") == 1


def test_a_closed_ticket_in_the_cache_costs_no_zendesk_call(deps: CampaignDeps,
                                                            zendesk: FakeZendesk) -> None:
    customer_has_ticket(deps, zendesk, status="closed")
    delivered(deps, campaign="Black Friday")
    assert zendesk.notes == [] and sum(zendesk.calls.values()) == 0


def test_a_ticket_closed_since_it_was_cached_gets_no_note_and_no_error(
        deps: CampaignDeps, zendesk: FakeZendesk) -> None:
    ticket_id = customer_has_ticket(deps, zendesk)
    zendesk.tickets[ticket_id]["status"] = "closed"
    assert delivered(deps, campaign="Black Friday") == "dropped:no_open_ticket"
    assert zendesk.notes == []


def test_a_ticket_the_index_does_not_know_gets_no_note_and_costs_no_zendesk_call(
        deps: CampaignDeps, zendesk: FakeZendesk) -> None:
    customer_has_ticket(deps, zendesk, cached=False)      # Redis lost it: rebuilt in the sweep
    assert delivered(deps, campaign="Black Friday") == "dropped:no_open_ticket"
    assert zendesk.notes == [] and sum(zendesk.calls.values()) == 0


def test_a_ticket_known_only_from_its_status_webhook_is_noted(
        deps: CampaignDeps, zendesk: FakeZendesk) -> None:
    ticket_id = customer_has_ticket(deps, zendesk, cached=False)
    deps.store.conversations.set_ticket_status(ticket_id, ALICE, TOLL_FREE, "pending")
    delivered(deps, campaign="Black Friday")
    assert len(zendesk.notes_on(ticket_id)) == 1


def test_a_ticket_closed_by_an_agent_is_forgotten_by_the_index(
        deps: CampaignDeps, zendesk: FakeZendesk) -> None:
    ticket_id = customer_has_ticket(deps, zendesk)
    deps.store.conversations.set_ticket_status(ticket_id, ALICE, TOLL_FREE, "closed")
    assert deps.store.open_sms.open_tickets(ALICE) == {}
    delivered(deps, campaign="Black Friday")
    assert zendesk.notes == [] and sum(zendesk.calls.values()) == 0


def test_an_older_tickets_closure_leaves_the_follow_up_in_the_index(
        deps: CampaignDeps, zendesk: FakeZendesk) -> None:
    old = customer_has_ticket(deps, zendesk, status="closed")
    follow_up = customer_has_ticket(deps, zendesk)
    deps.store.conversations.set_ticket_status(old, ALICE, TOLL_FREE, "closed")
    delivered(deps, campaign="Black Friday")
    assert zendesk.notes_on(follow_up) and not zendesk.notes_on(old)


def test_the_ticket_of_the_sending_number_is_preferred_over_a_newer_one(
        deps: CampaignDeps, zendesk: FakeZendesk) -> None:
    short_code_ticket = customer_has_ticket(deps, zendesk, brand=SHORT_CODE)
    customer_has_ticket(deps, zendesk, brand=TOLL_FREE)
    delivered(deps, brand=SHORT_CODE, campaign="Black Friday")
    assert [t for t, _ in zendesk.notes] == [short_code_ticket]


def test_e7_a_brands_campaign_notes_only_its_own_tickets_of_a_shared_phone(
        deps: CampaignDeps, zendesk: FakeZendesk) -> None:
    """Alice has an open ticket with another brand (its number): this brand's campaign to her
    leaves nothing there; her ticket on this brand's number gets the note."""
    other_brand = "+18005550200"
    theirs = customer_has_ticket(deps, zendesk, brand=other_brand)
    deps.store.open_sms.mark(ALICE, other_brand, theirs, "open")
    deps.owns = lambda number: number != other_brand
    assert delivered(deps, campaign="Black Friday", brand=SHORT_CODE) == "dropped:no_open_ticket"
    assert zendesk.notes == []
    assert dropped(deps, "no_open_ticket") == 1
    mine = customer_has_ticket(deps, zendesk)
    deps.store.open_sms.mark(ALICE, TOLL_FREE, mine, "open")
    delivered(deps, campaign="Cyber Monday", brand=SHORT_CODE, event_id="01JCYBER")
    assert [tid for tid, _ in zendesk.notes] == [mine]


def test_a7_a_campaign_sms_never_lands_on_the_customers_whatsapp_ticket(
        deps: CampaignDeps, zendesk: FakeZendesk) -> None:
    """S9 + A7: Alice's newest open ticket is a WhatsApp one; an SMS campaign is no part of
    that conversation, so it is noted only on an SMS ticket."""
    sms = customer_has_ticket(deps, zendesk)
    deps.store.open_sms.mark(ALICE, TOLL_FREE, sms, "open")
    whatsapp = zendesk.add_ticket(status="open")
    deps.store.open_sms.mark(ALICE, "wa:" + TOLL_FREE, whatsapp, "open")
    assert whatsapp > sms
    delivered(deps, campaign="Black Friday", brand=SHORT_CODE)
    assert [tid for tid, _ in zendesk.notes] == [sms]


def test_e1_a_concurrent_duplicate_of_a_receipt_waits_instead_of_noting_twice(
        deps: CampaignDeps, zendesk: FakeZendesk) -> None:
    """A Celery redelivery may run a receipt's task while the first run is still writing its
    note: the duplicate finds the note claimed and waits; its retry finds the note left."""
    from bridge.errors import Deferred  # noqa: PLC0415

    ticket_id = customer_has_ticket(deps, zendesk)
    deps.store.open_sms.mark(ALICE, TOLL_FREE, ticket_id, "open")
    ref = receive(deps.store, received_sms(SALE, campaign="Black Friday"), deps.clock())
    deps.store.ledger.claim(f"note:campaign:{ref}")          # the first run, mid-call
    with pytest.raises(Deferred):
        runner(deps).run_event(ref)
    assert zendesk.notes == []
    deps.store.ledger.release_claim(f"note:campaign:{ref}")
    assert runner(deps).run_event(ref) == "applied"
    assert runner(deps).run_event(ref) == "already_done"
    assert zendesk.notes_on(ticket_id) == [f"Klaviyo campaign 'Black Friday' sent: {SALE}"]
