"""A7 + E6 with fakes (#11): with bulk writes on, a campaign's notes on customers' open SMS
tickets go out a hundred to an update_many job instead of a PUT each; each note is left once
(a duplicate task, a refused item, an unknown job), a ticket closed meanwhile is forgotten, a
lone note still costs one single call, and notes waiting for a job never push a customer's text
into one."""

from __future__ import annotations

import pytest

from bridge.domain.model import Conversation, conversation_external_id
from bridge.handlers.bulk_drain import BulkDeps, drain
from bridge.handlers.bulk_notes import MIN_NOTE_JOB, NOTE_WAIT
from bridge.handlers.bulk_stage import Staged
from bridge.handlers.campaign_note import CampaignDeps, runner
from tests import fakes
from tests.bulk_fakes import FakeBulk, drain_and_wake
from tests.factories import SHORT_CODE, TOLL_FREE, receive, received_sms
from tests.fakes import Clock, FakeZendesk

SALE = "Black Friday: 30% off everything"
NOTE = f"Klaviyo campaign 'Black Friday' sent: {SALE}"
CUSTOMERS = [f"+1500555{2000 + i}" for i in range(12)]


@pytest.fixture
def deps(zendesk: FakeZendesk, clock: Clock) -> CampaignDeps:
    return CampaignDeps(store=fakes.store(), zendesk=zendesk, clock=clock, bulk_writes=True)



def open_tickets(deps: CampaignDeps, zendesk: FakeZendesk, customers: list[str]) -> list[int]:
    """Each customer's SMS conversation has an open ticket (in the cache and the index)."""
    ids = []
    for phone in customers:
        tid = zendesk.add_ticket(status="open",
                                 external_id=conversation_external_id(phone, TOLL_FREE))
        deps.store.conversations.put_conversation(
            Conversation(phone, TOLL_FREE, ticket_id=tid, ticket_status="open"))
        ids.append(tid)
    return ids


def campaign(deps: CampaignDeps, customers: list[str]) -> dict[str, str]:
    """The campaign reaches each customer; each receipt's task runs once: ref -> its answer."""
    answers = {}
    for phone in customers:
        ref = receive(deps.store, received_sms(SALE, customer=phone, brand=SHORT_CODE,
                                               campaign="Black Friday"), deps.clock())
        answers[ref] = run(ref, deps)
    return answers


def run(ref: str, deps: CampaignDeps) -> str:
    try:
        return runner(deps).run_event(ref)
    except Staged:
        return "staged"


def settle_all(deps: CampaignDeps, drainer: BulkDeps, refs: list[str], rounds: int = 8) -> None:
    """Drain and wake until no note waits (bulk_fakes.drain_and_wake)."""
    drain_and_wake(drainer, refs, lambda ref: run(ref, deps), rounds)


def state(deps: CampaignDeps, ref: str) -> str:
    return deps.store.events.load_event(ref)["state"]


def test_a_campaigns_notes_go_out_in_one_update_many_job_and_each_is_left_once(
        deps: CampaignDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps,
        clock: Clock) -> None:
    tickets = open_tickets(deps, zendesk, CUSTOMERS)
    zendesk.calls.clear()
    answers = campaign(deps, CUSTOMERS)
    assert set(answers.values()) == {"staged"} and dict(zendesk.calls) == {}
    drain(drainer)
    assert bulk.items_sent == []                    # the oldest has not waited NOTE_WAIT yet
    clock.advance(NOTE_WAIT)
    settle_all(deps, drainer, list(answers))
    assert bulk.items_sent == [("update", len(CUSTOMERS))]
    assert all(zendesk.notes_on(t) == [NOTE] for t in tickets)
    assert all(state(deps, ref) == "done" for ref in answers)
    assert "add_note" not in zendesk.calls and "update_ticket" not in zendesk.calls
    assert deps.store.bulk.backlog() == 0
    for ref in answers:                             # a redelivered receipt leaves nothing new
        deps.store.events.load_event(ref)
        run(ref, deps)
    assert all(zendesk.notes_on(t) == [NOTE] for t in tickets)


def test_a_duplicate_of_a_staged_notes_task_waits_and_never_stages_it_twice(
        deps: CampaignDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps,
        clock: Clock) -> None:
    tickets = open_tickets(deps, zendesk, CUSTOMERS[:MIN_NOTE_JOB])
    refs = list(campaign(deps, CUSTOMERS[:MIN_NOTE_JOB]))
    clock.advance(NOTE_WAIT)
    bulk.hold_jobs = True
    drain(drainer)                                  # submitted: the items are `sent`
    assert run(refs[0], deps) == "staged"           # a Celery redelivery of the first receipt
    assert deps.store.bulk.item(refs[0])["state"] == "sent"
    bulk.hold_jobs = False
    settle_all(deps, drainer, refs)
    assert bulk.items_sent == [("update", MIN_NOTE_JOB)]
    assert all(zendesk.notes_on(t) == [NOTE] for t in tickets)


def test_a_lone_note_is_handed_back_to_one_single_call(
        deps: CampaignDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps,
        clock: Clock) -> None:
    [ticket] = open_tickets(deps, zendesk, CUSTOMERS[:1])
    zendesk.calls.clear()
    [ref] = campaign(deps, CUSTOMERS[:1])
    clock.advance(NOTE_WAIT)
    settle_all(deps, drainer, [ref])
    assert bulk.items_sent == [] and dict(zendesk.calls) == {"add_note": 1}
    assert zendesk.notes_on(ticket) == [NOTE] and state(deps, ref) == "done"


def test_a_ticket_closed_before_its_job_ran_gets_no_note_and_leaves_the_index(
        deps: CampaignDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps,
        clock: Clock) -> None:
    tickets = open_tickets(deps, zendesk, CUSTOMERS[:4])
    refs = list(campaign(deps, CUSTOMERS[:4]))
    zendesk.tickets[tickets[0]]["status"] = "closed"     # closed in Zendesk; no webhook yet
    clock.advance(NOTE_WAIT)
    settle_all(deps, drainer, refs)
    assert zendesk.notes_on(tickets[0]) == []
    assert all(zendesk.notes_on(t) == [NOTE] for t in tickets[1:])
    assert state(deps, refs[0]) == "dropped"
    assert deps.store.open_sms.open_tickets(CUSTOMERS[0]) == {}
    counters = deps.store.outcomes.counters()
    assert counters.get("received_sms:dropped:no_open_ticket") == 1


def test_an_item_refused_for_another_reason_is_left_by_a_single_call(
        deps: CampaignDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps,
        clock: Clock) -> None:
    tickets = open_tickets(deps, zendesk, CUSTOMERS[:3])
    refs = list(campaign(deps, CUSTOMERS[:3]))
    bulk.full_tickets.add(tickets[1])               # this item fails in the job
    clock.advance(NOTE_WAIT)
    drain(drainer)
    bulk.full_tickets.clear()                       # the single call then succeeds
    settle_all(deps, drainer, refs)
    assert all(zendesk.notes_on(t) == [NOTE] for t in tickets)
    assert zendesk.calls["add_note"] == 1
    assert all(state(deps, ref) == "done" for ref in refs)


class WorkerDied(Exception):
    """Stands for SIGKILL between the job's submit and recording its id."""


def test_an_unknown_notes_job_is_handed_back_and_nothing_is_noted_twice(
        deps: CampaignDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps,
        clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    tickets = open_tickets(deps, zendesk, CUSTOMERS[:3])
    refs = list(campaign(deps, CUSTOMERS[:3]))
    clock.advance(NOTE_WAIT)

    def died(batch: dict, job_id: str) -> None:
        raise WorkerDied

    with monkeypatch.context() as m:
        m.setattr(deps.store.bulk, "set_job", died)
        with pytest.raises(WorkerDied):
            drain(drainer)                          # the job ran; its id was never recorded
    deps.store.client.delete("zkb:bulk:lock")
    clock.advance(drainer.unknown_after + 1)
    settle_all(deps, drainer, refs)
    assert all(zendesk.notes_on(t) == [NOTE] for t in tickets)   # found, not written again
    assert "add_note" not in zendesk.calls
    assert all(state(deps, ref) == "done" for ref in refs)


def test_notes_waiting_for_a_job_do_not_push_a_customers_text_into_one(
        deps: CampaignDeps, zendesk: FakeZendesk) -> None:
    open_tickets(deps, zendesk, CUSTOMERS[:3])
    campaign(deps, CUSTOMERS[:3])
    assert deps.store.bulk.waiting() == 0           # texts waiting to be packed: none
    assert deps.store.bulk.backlog() == 3           # but the drainer has work (beat runs it)


def test_without_bulk_writes_a_note_is_one_single_call(
        deps: CampaignDeps, zendesk: FakeZendesk, bulk: FakeBulk) -> None:
    deps.bulk_writes = False
    [ticket] = open_tickets(deps, zendesk, CUSTOMERS[:1])
    zendesk.calls.clear()
    [answer] = campaign(deps, CUSTOMERS[:1]).values()
    assert answer == "applied" and dict(zendesk.calls) == {"add_note": 1}
    assert zendesk.notes_on(ticket) == [NOTE] and bulk.items_sent == []
