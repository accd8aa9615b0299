"""E6 bulk writes with fakes (#11): under a backlog a customer's text is staged instead of
waiting for Zendesk's budget, the drainer packs staged writes into jobs and follows them, and the
text's own task takes its job's answer: each text exactly once, in order per customer, a
follow-up of a closed ticket becomes a follow-up ticket, a text refused for good lands in failed
jobs and replays, and a drainer that dies between a job's submit and its answer loses nothing
and doubles nothing (E1). With no backlog a text is a single call, as before."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bridge.adapters import redis_keys as keys
from bridge.adapters.quota import Quota
from bridge.budgets import zendesk_budgets
from bridge.config import Settings
from bridge.domain.metric_rules import OPENED
from bridge.domain.model import Budget, Conversation, conversation_external_id
from bridge.domain.sms_rules import Policy
from bridge.errors import Deferred, Permanent, RateLimited
from bridge.handlers.agent_reply import ReplyDeps
from bridge.handlers.bulk_drain import NEW_CONVERSATION_WAIT, BulkDeps, drain
from bridge.handlers.bulk_stage import Staged
from bridge.handlers.sms_inbound import InboundDeps, handle_inbound
from bridge.handlers.ticket_event import TicketEventDeps, handle_ticket_event
from bridge.handlers.ticket_metric import MADE_WAIT, MetricsDeps, record_metric
from bridge.ops.failed_jobs import replay
from tests import fakes
from tests.bulk_fakes import FakeBulk, drain_and_wake
from tests.factories import ALICE, BOB, TOLL_FREE, profile, receive, sent_sms, ticket_created
from tests.fakes import Clock, FakeKlaviyo, FakeZendesk


def limits(**per_minute: int) -> Settings:
    return Settings(zendesk_url="https://acme.zendesk.com", zendesk_webhook_secret="s" * 20,
                    klaviyo_api_key="pk_" + "k" * 20, klaviyo_webhook_secret="s" * 20,
                    **per_minute)


def budget_spent() -> RateLimited:
    return RateLimited("zendesk", 5.0, local=True)


@pytest.fixture
def deps(zendesk: FakeZendesk, clock: Clock) -> InboundDeps:
    klaviyo = FakeKlaviyo(profile(ALICE), profile(BOB, first_name="Bob"))
    return InboundDeps(store=fakes.store(), zendesk=zendesk, klaviyo=klaviyo, policy=Policy(),
                       clock=clock, sleep=clock.sleep, bulk_writes=True)



def send(deps: InboundDeps, body: str, customer: str = ALICE) -> tuple[str, str]:
    """The customer texts now; the text's task runs: (ref, its answer or "staged")."""
    deps.clock.advance(1)     # type: ignore[attr-defined]
    sent_at = datetime.fromtimestamp(deps.clock(), UTC)
    ref = receive(deps.store, sent_sms(body, customer=customer, sent_at=sent_at), deps.clock())
    return ref, run(ref, deps)


def run(ref: str, deps: InboundDeps) -> str:
    try:
        return handle_inbound(ref, deps)
    except Staged:
        return "staged"


def settle_all(deps: InboundDeps, drainer: BulkDeps, refs: list[str], rounds: int = 6) -> None:
    """Drain and wake until no text waits (bulk_fakes.drain_and_wake)."""
    drain_and_wake(drainer, refs, lambda ref: run(ref, deps), rounds)


def customer_ticket(zendesk: FakeZendesk, customer: str = ALICE) -> list[dict[str, Any]]:
    external = conversation_external_id(customer, TOLL_FREE)
    return [t for t in zendesk.tickets.values() if t.get("external_id") == external]


def open_ticket(deps: InboundDeps, zendesk: FakeZendesk, body: str = "hello",
                customer: str = ALICE) -> int:
    """The customer's conversation already has a ticket (made by a single write)."""
    _, answer = send(deps, body, customer)
    assert answer == "done"
    [ticket] = customer_ticket(zendesk, customer)
    return int(ticket["id"])


# --- no backlog: single calls -------------------------------------------------------------------
def test_with_no_backlog_a_follow_up_text_is_one_single_call(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk) -> None:
    ticket = open_ticket(deps, zendesk)
    zendesk.calls.clear()
    _, answer = send(deps, "any news?")
    assert answer == "done"
    assert dict(zendesk.calls) == {"update_ticket": 1}
    assert bulk.items_sent == [] and deps.store.bulk.backlog() == 0
    assert zendesk.comments_on(ticket) == ["hello", "any news?"]


def test_while_a_job_of_texts_is_in_flight_a_text_is_staged_and_after_it_single_again(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps) -> None:
    """Texts in a job in flight are a backlog too: a single write costs what a job does for a
    hundred texts, and a flood's single writes between drainer runs spent the window the jobs
    needed. Once the job is answered, a text is a single call again."""
    alice = open_ticket(deps, zendesk)
    bob = open_ticket(deps, zendesk, "hi", BOB)
    zendesk.fail_next("update_ticket", budget_spent())
    one, _ = send(deps, "one")
    bulk.hold_jobs = True
    drain(drainer)
    assert deps.store.bulk.waiting() == 0 and deps.store.bulk.backlog() == 1
    zendesk.calls.clear()
    two, answer = send(deps, "bob two", BOB)
    assert answer == "staged" and "update_ticket" not in zendesk.calls
    bulk.hold_jobs = False
    settle_all(deps, drainer, [one, two])
    assert zendesk.comments_on(alice) == ["hello", "one"]
    assert zendesk.comments_on(bob) == ["hi", "bob two"]
    assert deps.store.bulk.backlog() == 0
    zendesk.calls.clear()
    _, answer = send(deps, "bob three", BOB)
    assert answer == "done" and dict(zendesk.calls) == {"update_ticket": 1}


# --- follow-ups through update_many -------------------------------------------------------------
def test_a_text_the_budget_refuses_is_staged_and_lands_through_an_update_many_job(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps) -> None:
    ticket = open_ticket(deps, zendesk)
    zendesk.fail_next("update_ticket", budget_spent())
    ref, answer = send(deps, "any news?")
    assert answer == "staged"
    assert deps.store.events.load_event(ref)["state"] != "done"
    assert zendesk.comments_on(ticket) == ["hello"]
    settle_all(deps, drainer, [ref])
    assert bulk.items_sent == [("update", 1)]
    assert zendesk.comments_on(ticket) == ["hello", "any news?"]
    assert deps.store.events.load_event(ref)["state"] == "done"
    conv = deps.store.conversations.get_conversation(ALICE, TOLL_FREE)
    assert conv is not None and conv.ticket_id == ticket and conv.ticket_status == "open"
    assert deps.store.ledger.was_posted(conv.requester_id, "any news?")          # A2
    assert deps.store.outcomes.counters()["inbound_sms:processed:"] == 2
    assert deps.store.bulk.backlog() == 0 and deps.store.bulk.item(ref) is None


def test_while_a_backlog_exists_texts_are_staged_without_a_single_call_and_keep_their_order(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps) -> None:
    alice, bob = open_ticket(deps, zendesk), open_ticket(deps, zendesk, "hi", BOB)
    zendesk.fail_next("update_ticket", budget_spent())
    refs = [send(deps, "one")[0]]
    zendesk.calls.clear()
    for body, who in (("two", ALICE), ("bob one", BOB), ("three", ALICE)):
        ref, answer = send(deps, body, who)
        assert answer == "staged"
        refs.append(ref)
    assert zendesk.calls["update_ticket"] == 0
    drain(drainer)
    # one text per conversation in flight: Alice's "one" and Bob's first, not "two"/"three"
    assert bulk.items_sent == [("update", 2)]
    settle_all(deps, drainer, refs)
    assert zendesk.comments_on(alice) == ["hello", "one", "two", "three"]
    assert zendesk.comments_on(bob) == ["hi", "bob one"]
    assert all(deps.store.events.load_event(r)["state"] == "done" for r in refs)


def test_a_follow_up_of_a_closed_ticket_becomes_a_follow_up_ticket(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps) -> None:
    ticket = open_ticket(deps, zendesk)
    zendesk.tickets[ticket]["status"] = "closed"      # closed in Zendesk; the cache says open
    zendesk.fail_next("update_ticket", budget_spent())
    ref, _ = send(deps, "it broke again")
    settle_all(deps, drainer, [ref])
    assert [e for e, _ in bulk.items_sent][:1] == ["update"]
    follow_up = [t for t in customer_ticket(zendesk) if t["id"] != ticket]
    assert len(follow_up) == 1 and follow_up[0]["via_followup_source_id"] == ticket
    assert zendesk.comments_on(follow_up[0]["id"]) == ["it broke again"]
    assert zendesk.comments_on(ticket) == ["hello"]
    conv = deps.store.conversations.get_conversation(ALICE, TOLL_FREE)
    assert conv is not None and conv.ticket_id == follow_up[0]["id"]


# --- new conversations: create_or_update_many, then create_many ---------------------------------
def test_new_conversations_under_a_backlog_go_through_requester_and_ticket_jobs(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps) -> None:
    zendesk.fail_next("create_or_update_user", budget_spent())
    zendesk.fail_next("create_ticket", budget_spent())
    first, _ = send(deps, "I need help")
    second, answer = send(deps, "me too", BOB)
    assert answer == "staged"
    settle_all(deps, drainer, [first, second])
    assert [e for e, _ in bulk.items_sent] == ["users", "create"]
    assert len(zendesk.tickets) == 2 and len(zendesk.users) == 2
    for customer, body in ((ALICE, "I need help"), (BOB, "me too")):
        [ticket] = customer_ticket(zendesk, customer)
        assert zendesk.comments_on(ticket["id"]) == [body]
        conv = deps.store.conversations.get_conversation(customer, TOLL_FREE)
        assert conv is not None and conv.ticket_id == ticket["id"]
        assert deps.store.ledger.was_posted(ticket["requester_id"], body)
    assert deps.store.events.load_event(first)["state"] == "done"


# --- refused for good -> failed jobs -> replay --------------------------------------------------
def test_a_text_refused_for_good_lands_in_failed_jobs_and_replays(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps) -> None:
    ticket = open_ticket(deps, zendesk)
    bulk.full_tickets.add(ticket)
    zendesk.fail_next("update_ticket", budget_spent())
    ref, _ = send(deps, "one more")
    full = Permanent("zendesk", "PUT tickets/{id} answered 422: maximum of 5000 comments", 422)
    zendesk.fail_next("update_ticket", full)          # the single path meets the refusal
    settle_all(deps, drainer, [ref])
    assert bulk.items_sent == [("update", 1)]
    assert deps.store.events.load_event(ref)["state"] == "failed"
    assert ref in deps.store.outcomes.failed()
    assert zendesk.comments_on(ticket) == ["hello"]
    bulk.full_tickets.clear()
    published: list[str] = []
    replay(deps.store, ref, lambda task, r: published.append(r),
           lambda source, kind: "bridge.inbound_sms", now=deps.clock)
    assert published == [ref] and run(ref, deps) == "done"
    assert zendesk.comments_on(ticket) == ["hello", "one more"]
    assert ref not in deps.store.outcomes.failed()


# --- crashes between a job's submit and its answer (E1) -----------------------------------------
def test_a_drainer_dying_after_the_submit_leaves_a_known_job_that_the_next_run_follows(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps) -> None:
    ticket = open_ticket(deps, zendesk)
    zendesk.fail_next("update_ticket", budget_spent())
    ref, _ = send(deps, "where is it?")
    bulk.hold_jobs = True
    drain(drainer)                       # submitted and recorded; then the worker is killed
    deps.store.client.delete("zkb:bulk:lock")
    bulk.hold_jobs = False
    settle_all(deps, drainer, [ref])
    assert bulk.items_sent == [("update", 1)]
    assert zendesk.comments_on(ticket) == ["hello", "where is it?"]


class WorkerDied(Exception):
    """Stands for SIGKILL between the job's submit and recording its id."""


@pytest.mark.parametrize("new_conversation", [False, True])
def test_an_unknown_job_is_handed_back_and_the_single_path_finds_what_it_wrote(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps,
        clock: Clock, monkeypatch: pytest.MonkeyPatch, new_conversation: bool) -> None:
    if new_conversation:
        deps.store.conversations.put_conversation(deps.store.conversations.get_conversation(
            ALICE, TOLL_FREE) or _requester_only(deps, zendesk))
        zendesk.fail_next("create_ticket", budget_spent())
    else:
        open_ticket(deps, zendesk)
        zendesk.fail_next("update_ticket", budget_spent())
    ref, _ = send(deps, "still waiting")
    clock.advance(NEW_CONVERSATION_WAIT)          # a new conversation's ticket may share its job

    def died(batch: dict, job_id: str) -> None:
        raise WorkerDied

    with monkeypatch.context() as m:
        m.setattr(deps.store.bulk, "set_job", died)
        with pytest.raises(WorkerDied):
            drain(drainer)
    deps.store.client.delete("zkb:bulk:lock")
    drain(drainer)
    assert deps.store.bulk.item(ref)["state"] == "sent"        # not handed back too early
    clock.advance(drainer.unknown_after + 1)
    settle_all(deps, drainer, [ref])
    assert deps.store.events.load_event(ref)["state"] == "done"
    bodies = [b for t in customer_ticket(zendesk) for b in zendesk.comments_on(t["id"])]
    assert bodies.count("still waiting") == 1
    assert len(bulk.items_sent) == 1


def _requester_only(deps: InboundDeps, zendesk: FakeZendesk) -> Conversation:
    uid = zendesk.add_user("Alice", external_id=f"sms:{ALICE}")
    return Conversation(phone=ALICE, brand_number=TOLL_FREE, requester_id=uid)


def test_the_job_limit_puts_the_items_back_and_a_later_run_submits_them(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps) -> None:
    ticket = open_ticket(deps, zendesk)
    zendesk.fail_next("update_ticket", budget_spent())
    ref, _ = send(deps, "hello again")
    bulk.fail_next("update_many", RateLimited("zendesk", 3.0))      # 429: 30 jobs running
    drain(drainer)
    assert deps.store.bulk.item(ref)["state"] == "staged" and bulk.items_sent == []
    settle_all(deps, drainer, [ref])
    assert zendesk.comments_on(ticket) == ["hello", "hello again"]


def test_two_drainers_whose_runs_overlap_never_put_a_text_in_two_jobs(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps) -> None:
    """E1: a drainer whose lock ran out while it packed (a slow run) meets a second drainer
    packing the same staged texts; each text goes into one job only."""
    ticket = open_ticket(deps, zendesk)
    zendesk.fail_next("update_ticket", budget_spent())
    ref, answer = send(deps, "any news?")
    assert answer == "staged"
    items = deps.store.bulk.staged("comment", 100)
    assert [i["ref"] for i in items] == [ref]
    first = deps.store.bulk.open_batch("first", "comment", items, deps.clock())
    second = deps.store.bulk.open_batch("second", "comment", items, deps.clock())
    assert first is not None and second is None
    assert [b["id"] for b in deps.store.bulk.batches()] == ["first"]
    deps.store.bulk.cancel_batch(first, items)       # nothing submitted: staged again
    settle_all(deps, drainer, [ref])
    assert bulk.items_sent == [("update", 1)]
    assert zendesk.comments_on(ticket) == ["hello", "any news?"]


# --- a customer's text during a flood (E6: control p99 <= quiet p99 + 2 s) ---------------------
def gated(call: Any, quota: Quota, table: Any, endpoint: str) -> Any:
    """`call` behind the shared budget, as the HTTP funnel puts every Zendesk call."""
    def through_gate(*args: Any, **kwargs: Any) -> Any:
        wait = quota.take(*table(endpoint))
        if wait > 0:
            raise RateLimited("zendesk", wait, local=True)
        return call(*args, **kwargs)
    return through_gate


def test_texts_single_writes_leave_the_drainers_reserve_so_a_staged_text_still_goes_out(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A flood's single writes stop at half the window (budgets.BULK_RESERVE) and are staged
    from there; the drainer's job and its status read still find room in the same window."""
    open_ticket(deps, zendesk)
    quota = Quota(deps.store.client)
    table = zendesk_budgets(limits(zendesk_requests_per_minute=11,
                                   zendesk_updates_per_minute=11))   # 10 a window
    for fake, method, endpoint in ((zendesk, "update_ticket", "PUT tickets/{id}"),
                                   (bulk, "update_many", "PUT tickets/update_many"),
                                   (bulk, "job_statuses", "GET job_statuses/show_many")):
        monkeypatch.setattr(fake, method, gated(getattr(fake, method), quota, table, endpoint))
    answers = [send(deps, f"text {i}") for i in range(6)]
    assert [a for _, a in answers] == ["done"] * 5 + ["staged"]
    settle_all(deps, drainer, [answers[-1][0]])
    assert bulk.items_sent == [("update", 1)]
    [ticket] = customer_ticket(zendesk)
    assert zendesk.comments_on(ticket["id"]) == ["hello", *(f"text {i}" for i in range(6))]


def test_without_bulk_writes_a_texts_single_write_may_fill_the_whole_window(
        deps: InboundDeps, zendesk: FakeZendesk, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reserve is the drainer's: with bulk writes off (the baseline) nothing holds it."""
    deps.bulk_writes = False
    open_ticket(deps, zendesk)
    quota = Quota(deps.store.client)
    table = zendesk_budgets(limits(zendesk_requests_per_minute=11,
                                   zendesk_updates_per_minute=11))
    monkeypatch.setattr(zendesk, "update_ticket", gated(zendesk.update_ticket, quota, table,
                                                        "PUT tickets/{id}"))
    granted = 0
    for i in range(11):
        try:
            granted += send(deps, f"text {i}")[1] == "done"
        except RateLimited:
            break
    assert granted == 10


def test_a_follow_up_goes_out_at_once_and_new_conversations_share_a_job_a_moment_later(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps,
        clock: Clock) -> None:
    """A customer's follow-up (a live conversation) is packed at the drainer's next run even
    when new conversations' requesters were staged before it; those wait up to
    NEW_CONVERSATION_WAIT for others to share their job (before, requesters always went first
    and a follow-up waited behind a stream of them for the budget)."""
    ticket = open_ticket(deps, zendesk)
    zendesk.fail_next("create_or_update_user", budget_spent())
    new, answer = send(deps, "hi, I am new", BOB)
    assert answer == "staged"
    follow_up, answer = send(deps, "any news?")
    assert answer == "staged" and deps.store.bulk.waiting() == 2
    drain(drainer)
    assert bulk.items_sent == [("update", 1)]
    assert zendesk.comments_on(ticket) == ["hello", "any news?"]
    clock.advance(NEW_CONVERSATION_WAIT)
    drain(drainer)
    assert bulk.items_sent == [("update", 1), ("users", 1)]
    settle_all(deps, drainer, [new, follow_up])
    assert all(deps.store.events.load_event(r)["state"] == "done" for r in (new, follow_up))
    [bobs] = customer_ticket(zendesk, BOB)
    assert zendesk.comments_on(bobs["id"]) == ["hi, I am new"]


def test_a_job_is_first_asked_about_a_second_after_its_submit_then_less_and_less_often(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps,
        clock: Clock) -> None:
    """Beat runs the drainer every second while texts wait to be packed; a run with no job
    due a look reads no job status (the reads would take the budget the jobs need)."""
    open_ticket(deps, zendesk)
    zendesk.fail_next("update_ticket", budget_spent())
    ref, _ = send(deps, "where is it?")
    bulk.hold_jobs = True
    drain(drainer)
    looked_at = []
    for tick in range(1, 21):
        clock.advance(0.5)
        before = bulk.calls["job_statuses"]
        drain(drainer)
        if bulk.calls["job_statuses"] > before:
            looked_at.append(tick * 0.5)
    assert looked_at == [1.0, 3.0, 6.0]      # a second after, then 2 s apart at least, doubling
    bulk.hold_jobs = False
    settle_all(deps, drainer, [ref], rounds=9)
    assert deps.store.events.load_event(ref)["state"] == "done"


def test_a_ticket_a_job_made_needs_no_read_for_its_opened_ticket_and_gets_the_same_event(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps,
        clock: Clock) -> None:
    """E6: those reads took the background lane's whole share during a flood; the event built
    from what the job was given (and the webhook) is the one the read gives."""
    zendesk.fail_next("create_or_update_user", budget_spent())
    zendesk.fail_next("create_ticket", budget_spent())
    ref, _ = send(deps, "Where is my order?")
    settle_all(deps, drainer, [ref])
    [ticket] = customer_ticket(zendesk)
    assert [e for e, _ in bulk.items_sent] == ["users", "create"]
    events = ticket_events(deps, zendesk, clock)
    handle_ticket_event(receive(deps.store, ticket_created(ticket), clock()), events)
    assert zendesk.calls["ticket_with_people"] == 0
    [made] = deps.klaviyo.events
    deps.klaviyo.events.clear()
    tid = ticket["id"]           # the same ticket, as if made before this version: read
    deps.store.client.delete(keys.made_ticket(tid), keys.metric(tid, OPENED),
                             keys.claim(f"metric:{tid}:{OPENED}"))
    fetched = record_metric(tid, OPENED, made["time"], events.metrics)
    assert fetched.outcome == "applied" and zendesk.calls["ticket_with_people"] == 1
    [read] = deps.klaviyo.events
    assert read["properties"] == made["properties"] and read["profile"] == made["profile"]


def ticket_events(deps: InboundDeps, zendesk: FakeZendesk, clock: Clock) -> TicketEventDeps:
    metrics = MetricsDeps(store=deps.store, zendesk=zendesk, klaviyo=deps.klaviyo,
                          quota=deps.store.quota, events_budget=Budget("t", ((100, 60.0),)),
                          zendesk_url="https://acme.zendesk.com", clock=clock)
    replies = ReplyDeps(store=deps.store, zendesk=zendesk, klaviyo=deps.klaviyo,
                        quota=deps.store.quota, budget=Budget("r", ((100, 60.0),)),
                        clock=clock, sleep=clock.sleep)
    return TicketEventDeps(store=deps.store, replies=replies, metrics=metrics)


def made_in_a_job_not_read_yet(deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk,
                               drainer: BulkDeps, clock: Clock) -> tuple[str, dict[str, Any]]:
    """A new conversation's text, staged; rounds of the drainer until its create_many job is
    submitted (the ticket exists) and not yet read: (the text's ref, the ticket)."""
    zendesk.fail_next("create_or_update_user", budget_spent())
    ref, _ = send(deps, "Where is my order?")
    for _ in range(10):
        clock.advance(1)
        if not customer_ticket(zendesk):
            zendesk.fail_next("create_ticket", budget_spent())   # its write is staged too
        drain(drainer)
        if ("create", 1) in bulk.items_sent:
            [ticket] = customer_ticket(zendesk)
            return ref, ticket
        for woken in deps.store.due.holding([ref]):
            deps.store.due.take_due(float("inf"))
            run(woken, deps)
    raise AssertionError(f"no create_many job: {bulk.items_sent}")


def created_before_the_read(deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk,
                            drainer: BulkDeps, clock: Clock,
                            ) -> tuple[str, str, TicketEventDeps]:
    """The ticket.created webhook of a ticket a job made, received before the drainer read
    the job: (the text's ref, the webhook's ref, the ticket events' deps)."""
    ref, ticket = made_in_a_job_not_read_yet(deps, zendesk, bulk, drainer, clock)
    event = ticket_created(ticket)
    event["detail"]["created_at"] = datetime.fromtimestamp(clock(), UTC).isoformat()
    return ref, receive(deps.store, event, clock()), ticket_events(deps, zendesk, clock)


def test_an_opened_ticket_that_beats_the_read_of_its_job_waits_for_it_instead_of_a_read(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps,
        clock: Clock) -> None:
    """E6: the ticket.created webhook comes as the job runs, before the drainer reads it."""
    ref, created, events = created_before_the_read(deps, zendesk, bulk, drainer, clock)
    with pytest.raises(Deferred):
        handle_ticket_event(created, events)
    assert deps.klaviyo.events == []
    settle_all(deps, drainer, [ref])
    handle_ticket_event(created, events)
    assert zendesk.calls["ticket_with_people"] == 0
    [opened] = deps.klaviyo.events
    assert opened["metric"] == OPENED


def test_an_opened_ticket_whose_job_stays_unread_is_read_after_a_while(
        deps: InboundDeps, zendesk: FakeZendesk, bulk: FakeBulk, drainer: BulkDeps,
        clock: Clock) -> None:
    _, created, events = created_before_the_read(deps, zendesk, bulk, drainer, clock)
    clock.advance(MADE_WAIT)
    handle_ticket_event(created, events)
    assert zendesk.calls["ticket_with_people"] == 1
    assert [e["metric"] for e in deps.klaviyo.events] == [OPENED]
