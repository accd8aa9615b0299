"""Rules S10 and S11 end to end, through the real processes (sandbox webhook -> gunicorn -> Redis
-> celery worker -> sandbox Zendesk), on a stack of its own with SOLVED_REOPEN_HOURS=2:

- S10: an opt-out request in plain words inside a longer text is a comment on the ticket, the
  ticket is tagged `sms_optout_request` and the agent gets one internal note; /metrics counts it.
- S11: a text to a ticket solved three hours ago (the sandbox's Zendesk clock is set back while
  the agent solves it, so the webhook says so) opens a new ticket; one solved just now reopens.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from bridge.domain.opt_out import OPT_OUT_REQUEST_TAG
from scripts.devstack import Stack
from tests.e2e.conftest import E2E_ENV
from tests.e2e.harness import ALICE, BOB, DANA, TOLL_FREE, Bridge, wait_for

pytestmark = pytest.mark.e2e

PLEA = "Thanks for the refund. Please don’t text me again, I will call you if I need anything."


@pytest.fixture(scope="module")
def window_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(workdir=tmp_path_factory.mktemp("s11"), processes=("sandbox", "web", "worker"),
                  extra_env={**E2E_ENV, "SOLVED_REOPEN_HOURS": "2"})
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def bridge(window_stack: Stack) -> Bridge:
    b = Bridge(window_stack)
    b.reset()
    return b


def first_ticket(bridge: Bridge, phone: str, body: str) -> int:
    bridge.text(phone, body)
    wait_for(lambda: bridge.tickets_of(phone), what=f"a ticket for {phone}")
    bridge.settle()
    return int(bridge.tickets_of(phone)[0]["id"])


def notes(bridge: Bridge, ticket_id: int) -> list[str]:
    return [c["body"] for c in bridge.comments(ticket_id) if not c["public"]]


def solve(bridge: Bridge, phone: str, ticket_id: int, hours_ago: float = 0) -> None:
    """The agent solves the ticket `hours_ago` by Zendesk's clock; wait until the bridge has
    learned it from the status webhook (as it would have in real life, hours later)."""
    bridge.shift_zendesk_clock(-hours_ago * 3600)
    try:
        bridge.set_status(ticket_id, "solved")
        key = f"zkb:conv:{phone}:{TOLL_FREE}"
        wait_for(lambda: bridge.redis.hget(key, "ticket_status") == b"solved"
                 and bridge.redis.hget(key, "solved_at"), what="the bridge to learn the solve")
    finally:
        bridge.shift_zendesk_clock(0)


def opt_out_requests(bridge: Bridge) -> float:
    """zkb_opt_out_requests_total as /metrics shows it."""
    page = requests.get(f"{bridge.stack.web_url}/metrics", timeout=10).text
    [line] = [ln for ln in page.splitlines() if ln.startswith("zkb_opt_out_requests_total")]
    return float(line.split()[-1])


def test_s10_a_plea_inside_a_longer_text_is_a_comment_a_tag_and_one_note(bridge: Bridge) -> None:
    ticket_id = first_ticket(bridge, ALICE, "Where is my refund?")
    assert opt_out_requests(bridge) == 0
    bridge.text(ALICE, PLEA)
    wait_for(lambda: len(bridge.comments(ticket_id)) == 3, what="the plea and its note")
    bridge.settle()
    ticket = bridge.ticket(ticket_id)
    assert [c["body"] for c in ticket["comments"] if c["public"]] == ["Where is my refund?", PLEA]
    assert OPT_OUT_REQUEST_TAG in ticket["tags"] and "sms" in ticket["tags"]
    [note] = notes(bridge, ticket_id)
    assert OPT_OUT_REQUEST_TAG in note and "S10" in note
    assert len(bridge.tickets_of(ALICE)) == 1
    assert opt_out_requests(bridge) == 1


def test_s11_a_text_to_a_ticket_solved_longer_ago_than_the_window_opens_a_new_ticket(
        bridge: Bridge) -> None:
    old = first_ticket(bridge, BOB, "My order never came")
    solve(bridge, BOB, old, hours_ago=3)
    bridge.text(BOB, "Another question, about a new order")
    wait_for(lambda: len(bridge.tickets_of(BOB)) == 2, what="the new ticket")
    bridge.settle()
    new = max(int(t["id"]) for t in bridge.tickets_of(BOB))
    assert bridge.ticket(old)["status"] == "solved"
    assert [c["body"] for c in bridge.comments(old)] == ["My order never came"]
    assert [c["body"] for c in bridge.comments(new) if c["public"]] == [
        "Another question, about a new order"]
    [note] = notes(bridge, new)
    assert f"#{old}" in note and "S11" in note


def test_s11_a_text_to_a_ticket_solved_within_the_window_reopens_it(bridge: Bridge) -> None:
    ticket_id = first_ticket(bridge, DANA, "Where is my parcel?")
    solve(bridge, DANA, ticket_id)
    bridge.text(DANA, "It still has not come")
    wait_for(lambda: len(bridge.comments(ticket_id)) == 2, what="the comment")
    bridge.settle()
    assert bridge.ticket(ticket_id)["status"] == "open"
    assert len(bridge.tickets_of(DANA)) == 1
