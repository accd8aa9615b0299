"""Inbound SMS -> Zendesk, end to end: sandbox webhook -> gunicorn -> Redis -> celery worker ->
sandbox Zendesk. Rules S1-S7, E1 (PRODUCT.md)."""

from __future__ import annotations

import pytest

from tests.e2e.harness import (
    ALICE,
    BOB,
    BRANDED,
    CARLA,
    DANA,
    EMIL,
    SHORT_CODE,
    Bridge,
    wait_for,
)

pytestmark = pytest.mark.e2e


def one_ticket(bridge: Bridge, phone: str, to: str = "+18005550100") -> dict:
    tickets = wait_for(lambda: bridge.tickets_of(phone, to), what=f"a ticket for {phone}")
    bridge.settle()
    tickets = bridge.tickets_of(phone, to)
    assert len(tickets) == 1, tickets
    return tickets[0]


def bodies(bridge: Bridge, ticket_id: int) -> list[str]:
    return [c["body"] for c in bridge.comments(ticket_id)]


def test_a_new_text_opens_a_ticket_shaped_per_s5(bridge: Bridge) -> None:
    bridge.text(ALICE, "Where is my order #1234?")
    ticket = one_ticket(bridge, ALICE)
    requester = next(u for u in bridge.users() if u["id"] == ticket["requester_id"])
    assert requester["email"] == "alice@example.com"
    assert requester["name"] == "Alice Ames"
    assert ticket["subject"].startswith("SMS from +1") and ALICE not in ticket["subject"]
    assert ticket["subject"].endswith("0101")
    assert "sms" in ticket["tags"]
    comments = bridge.comments(ticket["id"])
    assert [c["body"] for c in comments] == ["Where is my order #1234?"]
    assert comments[0]["author_id"] == ticket["requester_id"] and comments[0]["public"]


def test_a_phone_only_customer_is_matched_by_external_id(bridge: Bridge) -> None:
    bridge.text(BOB, "hello, Bob here")
    ticket = one_ticket(bridge, BOB)
    requester = next(u for u in bridge.users() if u["id"] == ticket["requester_id"])
    assert requester["external_id"] == f"sms:{BOB}"
    assert requester["email"] in (None, "")


def test_a_follow_up_text_is_a_comment_costing_one_zendesk_call(bridge: Bridge) -> None:
    bridge.text(ALICE, "first")
    ticket = one_ticket(bridge, ALICE)
    bridge.reset_calls()
    bridge.text(ALICE, "second")
    wait_for(lambda: len(bridge.comments(ticket["id"])) == 2, what="the second comment")
    bridge.settle()
    assert bodies(bridge, ticket["id"]) == ["first", "second"]
    zendesk = {k: n for k, n in bridge.calls().items() if k.startswith("zendesk ")}
    assert zendesk == {"zendesk PUT /api/v2/tickets/{id}": 1}
    assert bridge.ticket(ticket["id"])["status"] == "open"


def test_a_new_conversation_costs_at_most_user_and_ticket_calls(bridge: Bridge) -> None:
    bridge.reset_calls()
    bridge.text(DANA, "new conversation")
    one_ticket(bridge, DANA)
    zendesk = {k: n for k, n in bridge.calls().items() if k.startswith("zendesk ")
               and "GET" not in k}
    assert zendesk == {"zendesk POST /api/v2/users/create_or_update": 1,
                       "zendesk POST /api/v2/tickets": 1}


def test_solved_ticket_is_reopened_by_a_new_text(bridge: Bridge) -> None:
    bridge.text(ALICE, "help me")
    ticket = one_ticket(bridge, ALICE)
    bridge.set_status(ticket["id"], "solved")
    bridge.settle()
    bridge.text(ALICE, "still broken")
    wait_for(lambda: len(bridge.comments(ticket["id"])) == 2, what="the comment")
    assert bridge.ticket(ticket["id"])["status"] == "open"


def test_on_hold_ticket_gets_the_comment_and_keeps_its_status(bridge: Bridge) -> None:
    bridge.text(ALICE, "question")
    ticket = one_ticket(bridge, ALICE)
    bridge.set_status(ticket["id"], "hold")
    # The agent's change reaches the bridge first (its webhook), as it would in real life.
    wait_for(lambda: bridge.redis.hget(f"zkb:conv:{ALICE}:+18005550100", "ticket_status")
             == b"hold", what="the bridge to learn the ticket is on hold")
    bridge.text(ALICE, "any news?")
    wait_for(lambda: len(bridge.comments(ticket["id"])) == 2, what="the comment")
    bridge.settle()
    assert bridge.ticket(ticket["id"])["status"] == "hold"


@pytest.mark.parametrize("silent", [False, True], ids=["closed_with_webhook", "auto_closed"])
def test_closed_ticket_gets_a_linked_follow_up_ticket(bridge: Bridge, silent: bool) -> None:
    bridge.text(ALICE, "first problem")
    first = one_ticket(bridge, ALICE)
    bridge.set_status(first["id"], "closed", silent=silent)
    bridge.settle()
    bridge.text(ALICE, "a new problem")
    tickets = wait_for(lambda: len(bridge.tickets_of(ALICE)) == 2 and bridge.tickets_of(ALICE),
                       what="the follow-up ticket")
    bridge.settle()
    followup = bridge.tickets_of(ALICE)[1]
    assert followup["via"]["source"]["rel"] == "follow_up"
    assert int(followup["via"]["source"]["from"]["ticket_id"]) == first["id"]
    assert bodies(bridge, followup["id"]) == ["a new problem"]
    assert bodies(bridge, first["id"]) == ["first problem"]
    assert len(tickets) == 2


@pytest.mark.parametrize("text", ["STOP", "please cancel my order", "JOIN", "vip", "Sale!"])
def test_keywords_never_reach_zendesk(bridge: Bridge, text: str) -> None:
    bridge.text(ALICE, text)
    wait_for(lambda: any(k.startswith("inbound_sms:dropped:keyword_")
                         for k in bridge.counters()), what="the keyword drop")
    bridge.settle()
    assert bridge.tickets() == []


@pytest.mark.parametrize("text", ["HELP", "help!", "INFO"])
def test_help_and_info_do_open_tickets(bridge: Bridge, text: str) -> None:
    bridge.text(ALICE, text)
    ticket = one_ticket(bridge, ALICE)
    assert bodies(bridge, ticket["id"]) == [text]


def test_a_customer_without_consent_gets_no_ticket(bridge: Bridge) -> None:
    bridge.text(CARLA, "hello?")
    wait_for(lambda: bridge.counters().get("inbound_sms:dropped:not_consented"),
             what="the consent drop")
    assert bridge.tickets() == []


def test_transactional_consent_alone_is_enough(bridge: Bridge) -> None:
    bridge.text(EMIL, "order question")
    assert bodies(bridge, one_ticket(bridge, EMIL)["id"]) == ["order question"]


def test_a_text_to_a_branded_sender_id_is_dropped(bridge: Bridge) -> None:
    bridge.text(ALICE, "hi", to=BRANDED)
    wait_for(lambda: bridge.counters().get("inbound_sms:dropped:branded_sender"),
             what="the branded-sender drop")
    assert bridge.tickets() == []


def test_a_short_code_conversation_is_its_own_ticket(bridge: Bridge) -> None:
    bridge.text(ALICE, "via short code", to=SHORT_CODE)
    ticket = one_ticket(bridge, ALICE, SHORT_CODE)
    assert bodies(bridge, ticket["id"]) == ["via short code"]


def test_picture_only_mms_makes_a_comment_saying_media_was_omitted(bridge: Bridge) -> None:
    bridge.text(ALICE, "see this")
    ticket = one_ticket(bridge, ALICE)
    bridge.text(ALICE, "", media_urls=["https://example.com/a.jpg"])
    wait_for(lambda: len(bridge.comments(ticket["id"])) == 2, what="the media comment")
    note = bodies(bridge, ticket["id"])[1]
    assert "media" in note.lower() and "not carried" in note.lower()


def test_twenty_texts_in_one_delivery_make_one_ticket_in_send_order(bridge: Bridge) -> None:
    texts = [f"part {i}" for i in range(20)]
    bridge.text_batch([{"from": ALICE, "to": "+18005550100", "body": t} for t in texts])
    ticket = one_ticket(bridge, ALICE)
    wait_for(lambda: len(bridge.comments(ticket["id"])) == 20, what="20 comments")
    bridge.settle()
    assert bodies(bridge, ticket["id"]) == texts


def test_twenty_concurrent_deliveries_make_one_ticket_in_send_order(bridge: Bridge) -> None:
    texts = [f"message {i}" for i in range(20)]
    for t in texts:
        bridge.text(ALICE, t)
    ticket = one_ticket(bridge, ALICE)
    wait_for(lambda: len(bridge.comments(ticket["id"])) >= 20, what="20 comments")
    bridge.settle()
    assert bodies(bridge, ticket["id"]) == texts


def test_the_same_delivery_three_times_is_applied_once(bridge: Bridge) -> None:
    sent = bridge.text(ALICE, "only once please")
    ticket = one_ticket(bridge, ALICE)
    bridge.redeliver(sent["delivery_id"])
    bridge.redeliver(sent["delivery_id"])
    bridge.settle()
    wait_for(lambda: sum(1 for d in bridge.deliveries("klaviyo")
                         if d["status"] == "delivered") >= 1, what="redeliveries")
    assert bodies(bridge, ticket["id"]) == ["only once please"]
    assert len(bridge.tickets()) == 1
    attempts = [a for d in bridge.deliveries("klaviyo") for a in d["attempts"]
                if a["status"] == 202]
    assert len(attempts) == 3


def test_a_flushed_redis_does_not_split_the_conversation(bridge: Bridge) -> None:
    bridge.text(BOB, "before the flush")
    ticket = one_ticket(bridge, BOB)
    bridge.redis.flushdb()
    bridge.text(BOB, "after the flush")
    wait_for(lambda: len(bridge.comments(ticket["id"])) == 2, what="the second comment")
    bridge.settle()
    assert len(bridge.tickets_of(BOB)) == 1
    assert bodies(bridge, ticket["id"]) == ["before the flush", "after the flush"]
