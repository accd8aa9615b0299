"""E6 compact storage, with fakes: once its work is done or dropped an event keeps only what
de-duplication needs (id, state, outcome, reason, kind, when: well under 200 bytes), for
DEDUP_WINDOW_SECONDS; a re-delivery inside that window is still recognised and costs nothing,
and events stored whole by the previous version are recognised the same way."""

from __future__ import annotations

import json

from bridge.domain.model import Conversation
from bridge.handlers.campaign_note import CampaignDeps, runner
from bridge.payloads.routes import queue_of
from tests import fakes
from tests.factories import ALICE, TOLL_FREE, raw_event, receive, received_sms
from tests.fakes import Clock, FakeZendesk

SALE = "Black Friday: 30% off everything " + "and more " * 60     # a long body, ~600 bytes


def stored_bytes(deps: CampaignDeps, ref: str) -> int:
    kept = deps.store.client.hgetall(f"zkb:ev:{ref}")
    return sum(len(k) + len(v) for k, v in kept.items())


def setup() -> tuple[CampaignDeps, FakeZendesk, int]:
    zendesk = FakeZendesk()
    deps = CampaignDeps(store=fakes.store(), zendesk=zendesk, clock=Clock())
    ticket = zendesk.add_ticket(status="open")
    deps.store.conversations.put_conversation(
        Conversation(ALICE, TOLL_FREE, ticket_id=ticket, ticket_status="open"))
    return deps, zendesk, ticket


def test_a_done_event_keeps_its_id_and_outcome_only_for_the_dedup_window() -> None:
    deps, zendesk, ticket = setup()
    item = received_sms(SALE, campaign="Black Friday")
    ref = receive(deps.store, item, deps.clock())
    assert stored_bytes(deps, ref) > 600
    runner(deps).run_event(ref)
    assert zendesk.notes_on(ticket)
    assert stored_bytes(deps, ref) <= 200
    kept = deps.store.client.hgetall(f"zkb:ev:{ref}")
    assert kept[b"state"] == b"done" and b"raw" not in kept
    assert deps.store.client.ttl(f"zkb:ev:{ref}") <= deps.store.events.dedup_window


def test_a_redelivery_of_a_settled_event_is_a_duplicate_and_costs_nothing() -> None:
    deps, zendesk, _ = setup()
    item = received_sms(SALE, campaign="Black Friday")
    ref = receive(deps.store, item, deps.clock())
    runner(deps).run_event(ref)
    calls = sum(zendesk.calls.values())
    new, retry = deps.store.events.save_events([raw_event(item)], deps.clock(), route=queue_of)
    assert (new, retry) == ([], [])
    assert runner(deps).run_event(ref) == "already_done"
    assert len(zendesk.notes) == 1 and sum(zendesk.calls.values()) == calls


def test_an_event_the_previous_version_settled_whole_is_still_a_duplicate() -> None:
    deps, zendesk, _ = setup()
    item = received_sms(SALE, campaign="Black Friday")
    ref = raw_event(item).ref
    deps.store.client.hset(f"zkb:ev:{ref}", mapping={      # as the old runner left it
        "raw": json.dumps(item, separators=(",", ":")), "kind": item["topic"],
        "received_at": 1, "seq": 7, "state": "done", "outcome": "applied", "reason": "",
        "done_at": 2})
    assert deps.store.events.save_events([raw_event(item)], deps.clock()) == ([], [])
    assert runner(deps).run_event(ref) == "already_done"
    assert zendesk.notes == []


def test_failed_jobs_whose_events_expired_are_pruned_and_the_rest_kept() -> None:
    deps, _, _ = setup()
    kept = receive(deps.store, received_sms("kept", campaign="A"), deps.clock())
    gone = receive(deps.store, received_sms("gone", campaign="B"), deps.clock())
    for ref in (kept, gone):
        deps.store.outcomes.record_failure(ref, "bridge.received_sms", RuntimeError("x"), 8, 1.0)
    deps.store.outcomes.record_failure("metric:zendesk-ticket-1-opened", "bridge.flush_metrics",
                                       RuntimeError("x"), 1, 1.0)
    deps.store.client.delete(f"zkb:ev:{gone}")            # EVENT_TTL_SECONDS passed
    assert deps.store.outcomes.prune_failed() == 1
    assert set(deps.store.outcomes.failed()) == {kept, "metric:zendesk-ticket-1-opened"}
