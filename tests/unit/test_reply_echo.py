"""A6: a reply whose send timed out is confirmed by Klaviyo's echo of it, and only by that.

Runs `replies._send` and `replies.confirm_by_echo` on fakeredis with a stand-in Klaviyo client.
"""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest

from bridge.envelopes import RawEvent
from bridge.http import Permanent, Retryable
from bridge.model import Conversation
from bridge.replies import ReplyDeps, _send, confirm_by_echo
from bridge.store import Store

PHONE, BRAND = "+15005550101", "+18005550100"
CONV = Conversation(PHONE, BRAND, ticket_id=101, klaviyo_conversation_id="conv-1")


class Klaviyo:
    """Answers every send with `outcome` (None: accepted; an exception: raised)."""

    def __init__(self, outcome: Exception | None) -> None:
        self.outcome, self.sent = outcome, []

    def send_conversation_message(self, conversation_id: str, text: str) -> None:
        self.sent.append(text)
        if self.outcome is not None:
            raise self.outcome


def deps(store: Store, klaviyo: Klaviyo) -> ReplyDeps:
    return ReplyDeps(store=store, zendesk=None, klaviyo=klaviyo, quota=None,  # type: ignore[arg-type]
                     budget=None, clock=lambda: 1000.0)  # type: ignore[arg-type]


def timed_out() -> Retryable:
    err = Retryable("klaviyo", "POST conversation-messages sent, but no answer in time")
    err.maybe_applied = True
    return err


def unknown_reply(store: Store, ref: str, comment_id: int, text: str) -> None:
    """A send whose answer was lost, reported in failed jobs."""
    store.save_events([RawEvent("zendesk", ref.split(":", 1)[1], "comment_added", {})], now=1.0)
    with pytest.raises(Retryable):
        _send(ref, comment_id, text, CONV, deps(store, Klaviyo(timed_out())))
    store.record_failure(ref, "bridge.zendesk_event", Permanent("klaviyo", "unknown"), 1, 2.0)


def test_the_echo_of_a_reply_whose_answer_was_lost_records_it_as_sent() -> None:
    store = Store(fakeredis.FakeRedis())
    unknown_reply(store, "zendesk:e1", 5001, "It ships today.")
    assert store.reply_state(5001)["state"] == "sending"
    assert confirm_by_echo(store, PHONE, "It ships today.", 3.0) == "zendesk:e1"
    assert store.reply_state(5001)["state"] == "sent"
    assert store.failed_entry("zendesk:e1") is None
    assert store.load_event("zendesk:e1")["reason"] == "confirmed_by_echo"
    assert store.counters()["agent_reply:confirmed:klaviyo_echo"] == 1


def test_an_echo_confirms_one_reply_and_only_one_whose_outcome_is_unknown() -> None:
    store = Store(fakeredis.FakeRedis())
    unknown_reply(store, "zendesk:e1", 5001, "Thanks!")
    unknown_reply(store, "zendesk:e2", 5002, "Thanks!")
    assert confirm_by_echo(store, PHONE, "Thanks!", 3.0) in ("zendesk:e1", "zendesk:e2")
    states = sorted(store.reply_state(c)["state"] for c in (5001, 5002))
    assert states == ["sending", "sent"]
    assert confirm_by_echo(store, "+15005550102", "Thanks!", 3.0) is None   # another phone


@pytest.mark.parametrize("outcome", [None, Retryable("klaviyo", "answered 503", 503),
                                     Permanent("klaviyo", "answered 400", 400)])
def test_a_send_whose_outcome_is_known_is_never_confirmed_by_an_echo(
        outcome: Any) -> None:
    """Sent (the echo is of that send) or certainly not sent (a retry sends it later)."""
    store = Store(fakeredis.FakeRedis())
    try:
        _send("zendesk:e3", 5003, "On its way.", CONV, deps(store, Klaviyo(outcome)))
    except (Retryable, Permanent):
        assert store.reply_state(5003) is None          # abandoned: a retry may send it
    else:
        assert store.reply_state(5003)["state"] == "sent"
    assert confirm_by_echo(store, PHONE, "On its way.", 3.0) is None
