"""M5, support state on the profile: the pure rules (which change an event makes, how the event
carries the count) and the Redis record of each requester's open tickets, on fakeredis."""

from __future__ import annotations

import json

import fakeredis
import pytest
import requests

from bridge.adapters.klaviyo import KlaviyoClient
from bridge.adapters.support_state import SupportState
from bridge.config import Settings, default
from bridge.domain.metric_rules import OPENED, RESOLVED, MetricEvent
from bridge.domain.support_rules import (
    CLOSED_CHANGE,
    DEFAULT_PROPERTY,
    OPENED_CHANGE,
    change_of,
    with_open_tickets,
)
from bridge.errors import ConfigError
from tests.unit.test_settings import SANDBOX as ENV

ALICE, BOB = 501, 502


def event(metric: str = OPENED, ticket_id: int = 1) -> MetricEvent:
    return MetricEvent(metric, ticket_id, "2026-11-25T10:00:00Z", {"email": "a@example.com"},
                       {"Ticket_id": ticket_id}, f"zendesk-ticket-{ticket_id}", ALICE)


@pytest.fixture
def state() -> SupportState:
    return SupportState(fakeredis.FakeRedis())


def test_m5_opened_adds_resolved_removes_and_other_metrics_change_nothing() -> None:
    assert change_of(OPENED) == OPENED_CHANGE
    assert change_of(RESOLVED) == CLOSED_CHANGE
    assert change_of("Zendesk Agent Reply") is None


def test_m5_the_count_rides_in_the_profile_object_next_to_the_identity() -> None:
    stamped = with_open_tickets(event(), DEFAULT_PROPERTY, 2)
    assert stamped.profile == {"email": "a@example.com",
                               "properties": {"Open support tickets": 2}}
    assert stamped.properties == {"Ticket_id": 1}          # the event's own properties unchanged
    again = with_open_tickets(stamped, DEFAULT_PROPERTY, 0)
    assert again.profile == {"email": "a@example.com", "properties": {"Open support tickets": 0}}


def test_m5_the_property_is_named_by_a_setting_defaulting_to_the_handlers_default() -> None:
    assert default("support_state_property") == DEFAULT_PROPERTY == "Open support tickets"
    assert Settings.from_env({**ENV, "SUPPORT_STATE_PROPERTY": "Waiting on support"}
                             ).support_state_property == "Waiting on support"
    with pytest.raises(ConfigError, match="SUPPORT_STATE_PROPERTY"):
        Settings.from_env({**ENV, "SUPPORT_STATE_PROPERTY": "$email"})


def test_m5_a_ticket_opened_twice_counts_once(state: SupportState) -> None:
    assert state.apply([(1, ALICE, OPENED_CHANGE)]) == [1]
    assert state.apply([(1, ALICE, OPENED_CHANGE)]) == [1]
    assert state.counts([ALICE, BOB]) == [1, 0]


@pytest.mark.parametrize("first", [1, 2])
def test_m5_two_tickets_closed_in_either_order_end_at_zero(state: SupportState,
                                                          first: int) -> None:
    state.apply([(1, ALICE, OPENED_CHANGE), (2, ALICE, OPENED_CHANGE)])
    second = 3 - first
    assert state.apply([(first, ALICE, CLOSED_CHANGE)]) == [1]
    assert state.apply([(second, ALICE, CLOSED_CHANGE)]) == [0]
    assert state.apply([(first, ALICE, CLOSED_CHANGE)]) == [0]     # a duplicate closure


def test_m5_an_opened_handled_after_its_resolved_never_counts(state: SupportState) -> None:
    assert state.apply([(1, ALICE, CLOSED_CHANGE)]) == [0]
    assert state.apply([(1, ALICE, OPENED_CHANGE)]) == [0]
    assert state.apply([(2, ALICE, OPENED_CHANGE)]) == [1]


def test_m5_a_ticket_moved_to_another_requester_leaves_the_first_when_it_closes(
        state: SupportState) -> None:
    """A user merge in Zendesk moves tickets: the closure reaches the new requester, and the
    ticket still stops counting for the one it was counted under."""
    state.apply([(1, ALICE, OPENED_CHANGE)])
    assert state.apply([(1, BOB, CLOSED_CHANGE)]) == [0]
    assert state.counts([ALICE, BOB]) == [0, 0]


def test_m5_a_deleted_ticket_stops_counting_for_good(state: SupportState) -> None:
    state.apply([(1, ALICE, OPENED_CHANGE), (2, ALICE, OPENED_CHANGE)])
    state.forget(1)
    assert state.counts([ALICE]) == [1]
    assert state.apply([(1, ALICE, OPENED_CHANGE)]) == [1]


def test_m5_only_the_holder_of_a_requester_lets_go_of_it(state: SupportState) -> None:
    assert state.hold([ALICE, BOB], "mine") == [True, True]
    assert state.hold([ALICE], "theirs") == [False]
    state.let_go([ALICE], "theirs")                     # not theirs to let go
    assert state.hold([ALICE], "theirs") == [False]
    state.let_go([ALICE, BOB], "mine")
    assert state.hold([ALICE, BOB], "theirs") == [True, True]


class Capture(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[dict] = []

    def request(self, method: str, url: str, **kwargs: object) -> requests.Response:  # type: ignore[override]
        self.bodies.append(json.loads(json.dumps(kwargs.get("json"))))
        resp = requests.Response()
        resp.status_code, resp._content = 202, b""
        return resp


def test_m5_the_klaviyo_client_sends_the_count_in_the_profile_object_single_and_bulk() -> None:
    session = Capture()
    client = KlaviyoClient("https://a.klaviyo.com", api_key="pk_x", revision="2026-07-15",
                           session=session)
    stamped = with_open_tickets(event(), DEFAULT_PROPERTY, 1)
    client.create_event(metric=stamped.metric, profile=stamped.profile,
                        properties=stamped.properties, unique_id=stamped.unique_id)
    other = with_open_tickets(event(RESOLVED, 2), DEFAULT_PROPERTY, 1)
    client.bulk_create_events([stamped, other])
    single, job = session.bodies
    assert single["data"]["attributes"]["profile"]["data"]["attributes"] == {
        "email": "a@example.com", "properties": {"Open support tickets": 1}}
    (group,) = job["data"]["attributes"]["events-bulk-create"]["data"]   # one profile, one group
    assert group["attributes"]["profile"]["data"]["attributes"]["properties"] == {
        "Open support tickets": 1}
    assert len(group["attributes"]["events"]["data"]) == 2
