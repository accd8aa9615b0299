"""Held agent replies end to end, through the real processes (sandbox Zendesk desk -> webhook ->
gunicorn -> Redis -> celery worker and beat -> sandbox Klaviyo -> the customer's phone), on a
stack of its own:

- A8: a reply written inside a quiet window that ends a minute later is held (parked in
  `zkb:due`), the agent gets one note, the worker is killed and restarted meanwhile, and at the
  window's end beat releases it: both replies reach the phone, in the order they were written.
- A8: adding the tag `sms_send_now` in the desk sends a held reply at once.
- S10: a ticket tagged `sms_optout_request` (by a customer's text asking in words to stop) holds
  a reply until the agent removes the tag.

The sandbox's customers have +1 500 numbers, which name no single time zone, so their clock is
`QUIET_HOURS_TZ` (UTC here); each test sets the window it needs and restarts the worker.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from bridge.domain.opt_out import OPT_OUT_REQUEST_TAG
from bridge.domain.reply_holds import SEND_NOW_TAG
from scripts.devstack import Stack
from tests.e2e.conftest import E2E_ENV
from tests.e2e.harness import AGENT_ANA, ALICE, BOB, EMIL, Bridge, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(workdir=tmp_path_factory.mktemp("quiet"), extra_env={
        **E2E_ENV, "QUIET_HOURS": "00:00-00:01", "QUIET_HOURS_TZ": "UTC"})
    try:
        s.start()
        yield s
    finally:
        s.stop()


def quiet_window(stack: Stack, starts_in: float, ends_in: float) -> float:
    """Set QUIET_HOURS (UTC, whole minutes) to run from about `starts_in` to at least `ends_in`
    seconds from now, restart the worker with it, and answer when the window ends (epoch)."""
    now = time.time()
    start = datetime.fromtimestamp(math.floor((now + starts_in) / 60) * 60, UTC)
    end_at = math.ceil((now + ends_in) / 60) * 60
    end = datetime.fromtimestamp(end_at, UTC)
    stack.extra_env["QUIET_HOURS"] = f"{start:%H:%M}-{end:%H:%M}"
    restart_worker(stack)
    return end_at


def restart_worker(stack: Stack, sig: int = signal.SIGTERM) -> None:
    """Stop the worker (SIGKILL: a crash) and start it again; wait until it consumes again."""
    readies = stack.log("worker").count(" ready")
    if sig == signal.SIGTERM:
        stack.procs["worker"].stop()
    else:
        stack.kill("worker", sig)
    stack.start_process("worker")
    wait_for(lambda: stack.log("worker").count(" ready") > readies, timeout=60,
             what="the worker to start again")


def open_ticket(bridge: Bridge, phone: str, text: str = "is my order shipped?") -> int:
    bridge.text(phone, text)
    wait_for(lambda: bridge.tickets_of(phone), what=f"a ticket for {phone}")
    ticket = int(bridge.tickets_of(phone)[0]["id"])
    wait_for(lambda: bridge.redis.get(f"zkb:ticketconv:{ticket}"), what="the conversation")
    return ticket


def notes(bridge: Bridge, ticket_id: int, rule: str) -> list[str]:
    return [c["body"] for c in bridge.comments(ticket_id) if not c["public"] and rule in c["body"]]


def tag(bridge: Bridge, ticket_id: int, *, add: tuple[str, ...] = (),
        remove: tuple[str, ...] = ()) -> None:
    """The agent changes the ticket's tags in the desk (Zendesk sends ticket.tags_changed)."""
    requests.post(f"{bridge.sandbox}/_sandbox/zendesk/tickets/{ticket_id}/tags",
                  json={"add": list(add), "remove": list(remove), "actor_id": AGENT_ANA},
                  timeout=10).raise_for_status()


def grew(bridge: Bridge, before: dict[str, int], counter: str) -> int:
    """How much an outcome counter grew during the test (the stack is the module's)."""
    return bridge.counters().get(counter, 0) - before.get(counter, 0)


def texts(bridge: Bridge, phone: str) -> list[str]:
    return [m["body"] for m in bridge.replies_to(phone)]


def test_a8_a_reply_in_a_quiet_window_ending_a_minute_later_is_held_then_sent_in_order(
        stack: Stack) -> None:
    bridge = Bridge(stack)
    before = bridge.counters()
    ends = quiet_window(stack, starts_in=-3600, ends_in=75)
    ticket = open_ticket(bridge, ALICE)
    bridge.reply(ticket, "It shipped this morning.")
    bridge.reply(ticket, "Tracking: 1Z999.")
    wait_for(lambda: notes(bridge, ticket, "A8"), what="the quiet-hours note")
    wait_for(lambda: bridge.redis.zcard("zkb:due"), what="the reply parked in Redis")
    restart_worker(stack, signal.SIGKILL)                     # a crash while it waits
    assert time.time() < ends and texts(bridge, ALICE) == []
    wait_for(lambda: len(texts(bridge, ALICE)) == 2, timeout=ends - time.time() + 60,
             what="both replies after the window")
    sent = bridge.replies_to(ALICE)
    assert [m["body"] for m in sent] == ["It shipped this morning.", "Tracking: 1Z999."]
    assert datetime.fromisoformat(sent[0]["at"]).timestamp() >= ends
    [note] = notes(bridge, ticket, "A8")
    assert f"{datetime.fromtimestamp(ends, UTC):%H:%M}" in note and "(UTC)" in note
    assert grew(bridge, before, "agent_reply:held:quiet_hours") == 1
    assert grew(bridge, before, "agent_reply:processed:") == 2
    assert bridge.redis.hlen("zkb:failed") == 0


def test_a8_the_sms_send_now_tag_sends_a_held_reply_at_once(stack: Stack) -> None:
    bridge = Bridge(stack)
    before = bridge.counters()
    quiet_window(stack, starts_in=-3600, ends_in=2 * 3600)
    ticket = open_ticket(bridge, BOB)
    bridge.reply(ticket, "We can refund it today.")
    wait_for(lambda: notes(bridge, ticket, "A8"), what="the quiet-hours note")
    assert texts(bridge, BOB) == []
    tag(bridge, ticket, add=(SEND_NOW_TAG,))
    wait_for(lambda: texts(bridge, BOB), timeout=30, what="the released reply")
    bridge.reply(ticket, "Done: refunded.")                  # the tag stays: not held
    wait_for(lambda: len(texts(bridge, BOB)) == 2, timeout=30, what="the next reply")
    assert texts(bridge, BOB) == ["We can refund it today.", "Done: refunded."]
    assert len(notes(bridge, ticket, "A8")) == 1
    assert grew(bridge, before, "zendesk_event:processed:released") == 1


def test_s10_a_ticket_whose_customer_asked_to_stop_holds_a_reply_until_the_tag_is_removed(
        stack: Stack) -> None:
    bridge = Bridge(stack)
    before = bridge.counters()
    quiet_window(stack, starts_in=3 * 3600, ends_in=4 * 3600)   # not quiet hours now
    ticket = open_ticket(bridge, EMIL, "Got the parcel. Please don't text me again.")
    wait_for(lambda: OPT_OUT_REQUEST_TAG in bridge.ticket(ticket)["tags"], what="the S10 tag")
    bridge.reply(ticket, "Noted, sorry for the trouble.")
    wait_for(lambda: notes(bridge, ticket, "This reply is held"), what="the hold note")
    [note] = notes(bridge, ticket, "This reply is held")
    assert "S10" in note
    assert texts(bridge, EMIL) == []
    tag(bridge, ticket, remove=(OPT_OUT_REQUEST_TAG,))
    wait_for(lambda: texts(bridge, EMIL), timeout=30, what="the reply after the tag went")
    assert texts(bridge, EMIL) == ["Noted, sorry for the trouble."]
    assert grew(bridge, before, "agent_reply:held:opt_out_request") == 1
    bridge.settle()
