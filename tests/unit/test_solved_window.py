"""Rule S11 (threading window): with SOLVED_REOPEN_HOURS, a text to a ticket solved longer ago
than that opens a new ticket instead of reopening it; unset, or with the solved time unknown,
Klaviyo's rule (S4: reopen) stays. Also how the solved time is stored and read back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import fakeredis
import pytest

from bridge.adapters.conversations import Conversations
from bridge.adapters.redis_keys import conversation as conversation_key
from bridge.config import Settings
from bridge.domain.decisions import AddComment, CreateTicket
from bridge.domain.intents import CreationIntent, PreparedText, intent_from_json
from bridge.domain.model import Conversation
from bridge.domain.sms_rules import decide_inbound, follows_solved_note
from bridge.errors import ConfigError
from bridge.payloads.zendesk_events import event_time
from tests.unit.test_rules import CUSTOMER, LONG_CODE, conversation
from tests.unit.test_settings import SANDBOX

SOLVED_AT = 1_800_000_000.0
HOUR = 3600.0


def solved(at: float | None = SOLVED_AT) -> Conversation:
    return replace(conversation(status="solved"), solved_at=at)


def test_s11_a_ticket_solved_longer_ago_than_the_window_gets_a_new_ticket() -> None:
    decision = decide_inbound(solved(), SOLVED_AT + 73 * HOUR, 72)
    assert decision == CreateTicket(follows_solved=5158)
    assert decision.followup_of is None      # Zendesk links follow-ups to closed tickets only


def test_s11_a_ticket_solved_within_the_window_is_reopened() -> None:
    assert decide_inbound(solved(), SOLVED_AT + 71 * HOUR, 72) == AddComment(5158, "open")


def test_s11_unset_keeps_klaviyos_rule_however_long_ago_it_was_solved() -> None:
    assert decide_inbound(solved(), SOLVED_AT + 1000 * HOUR, None) == AddComment(5158, "open")


def test_s11_an_unknown_solved_time_reopens() -> None:
    assert decide_inbound(solved(at=None), SOLVED_AT + 1000 * HOUR, 1) == AddComment(5158, "open")


@pytest.mark.parametrize("status", ["open", "pending", "hold"])
def test_s11_only_solved_tickets_are_concerned(status: str) -> None:
    conv = replace(conversation(status=status), solved_at=SOLVED_AT)
    assert isinstance(decide_inbound(conv, SOLVED_AT + 100 * HOUR, 1), AddComment)


def test_s11_a_fraction_of_an_hour_is_a_window() -> None:
    assert decide_inbound(solved(), SOLVED_AT + 10, 0.001) == CreateTicket(follows_solved=5158)


def test_s11_the_note_names_the_solved_ticket() -> None:
    assert "#5158" in follows_solved_note(5158) and "S11" in follows_solved_note(5158)


# --- the solved time in the conversation cache --------------------------------------------------
def test_the_solved_time_is_kept_with_the_status_and_cleared_when_the_ticket_moves_on() -> None:
    convs = Conversations(fakeredis.FakeRedis())
    convs.put_conversation(conversation(status="open"))
    assert convs.set_ticket_status(5158, CUSTOMER, LONG_CODE, "solved", at=SOLVED_AT)
    assert convs.get_conversation(CUSTOMER, LONG_CODE).solved_at == SOLVED_AT
    convs.set_ticket_status(5158, CUSTOMER, LONG_CODE, "open", at=SOLVED_AT + 5)
    assert convs.get_conversation(CUSTOMER, LONG_CODE).solved_at is None


def test_a_conversation_stored_before_the_solved_time_existed_still_loads() -> None:
    client = fakeredis.FakeRedis()
    client.hset(conversation_key(CUSTOMER, LONG_CODE), mapping={
        "phone": CUSTOMER, "brand_number": LONG_CODE, "ticket_id": "5158",
        "ticket_status": "solved", "requester_id": "84473", "profile_id": "",
        "klaviyo_conversation_id": ""})
    conv = Conversations(client).get_conversation(CUSTOMER, LONG_CODE)
    assert conv is not None and conv.ticket_status == "solved" and conv.solved_at is None
    assert decide_inbound(conv, SOLVED_AT, 1) == AddComment(5158, "open")


def test_the_change_time_is_read_from_the_zendesk_payload() -> None:
    whole = datetime(2027, 1, 15, 8, 0, tzinfo=UTC).timestamp()
    assert event_time({"time": "2027-01-15T08:00:00Z"}) == whole
    assert event_time({"time": "2027-01-15T08:00:00.672717030Z"}) == pytest.approx(
        whole + 0.672717)
    assert event_time({"time": "yesterday"}) is None and event_time({}) is None


# --- settings -----------------------------------------------------------------------------------
def test_solved_reopen_hours_is_optional_and_may_be_a_fraction() -> None:
    assert Settings.from_env(SANDBOX).solved_reopen_hours is None
    assert Settings.from_env({**SANDBOX, "SOLVED_REOPEN_HOURS": "0.5"}).solved_reopen_hours \
        == 0.5


@pytest.mark.parametrize("raw", ["0", "-3", "three days", "nan", "inf"])
def test_a_window_that_is_not_a_positive_number_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({**SANDBOX, "SOLVED_REOPEN_HOURS": raw})
    assert "SOLVED_REOPEN_HOURS" in str(err.value)


def test_jobs_stored_by_the_version_before_still_load() -> None:
    """A text prepared, or a creation started, before the upgrade resumes as an ordinary text
    (no S10 flag, no S11 note)."""
    prepared = PreparedText.from_json({"phone": CUSTOMER, "brand": LONG_CODE, "body": "hi",
                                       "subject": "SMS", "name": "Alice", "email": None})
    assert prepared.opt_out_request is False
    intent = intent_from_json({"create": True, "at": 1.0, "ticket": {"requester_id": 7},
                               "after": 5158, "ticket_id": 6000})
    assert isinstance(intent, CreationIntent) and intent.follows_solved is None
    again = intent_from_json(replace(intent, follows_solved=5158).to_json())
    assert isinstance(again, CreationIntent) and again.follows_solved == 5158
