"""Inbound SMS handler: load state -> decide (rules.py) -> apply to Zendesk. Rules S1-S7, E1.

`handle_inbound` is what the `bridge.inbound_sms` task runs. The receiver already put the text
in its conversation's queue (a Redis zset ordered by send time) when it acknowledged it; the
task drains that queue under the conversation lock, so a customer's texts are screened and
applied one at a time, in the order sent, while other conversations proceed in parallel on
other workers. Any task of a conversation can apply any of its texts.

Crash safety, step by step: every upstream write is either idempotent by itself (ticket
creation carries an Idempotency-Key derived from the event) or preceded by an intent record
that a re-run checks against Zendesk before writing again (comments). The event is marked done
only after the write, so a crash in between means "check, then maybe write", never "lose".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bridge import rules
from bridge.decisions import AddComment, CreateTicket, Drop
from bridge.http import Permanent
from bridge.klaviyo import KlaviyoClient
from bridge.klaviyo_events import EventShapeError, parse_inbound_sms
from bridge.model import Conversation, Profile, requester_external_id
from bridge.observe import log_outcome
from bridge.phones import canonical_brand_number, mask
from bridge.store import Store
from bridge.zendesk import TicketClosed, TicketGone, ZendeskClient

KIND = "inbound_sms"
FINAL_STATES = ("done", "dropped", "failed")


class ConversationBusy(Exception):
    """Another worker holds this conversation; it will apply our event. The task retries
    shortly in case that worker dies first."""


class SetAside(Exception):
    """The head event failed for good; it was recorded in failed jobs and skipped."""


@dataclass
class InboundDeps:
    store: Store
    zendesk: ZendeskClient
    klaviyo: KlaviyoClient
    policy: rules.Policy
    tags: tuple[str, ...] = ()
    group_id: int | None = None
    brand_id: int | None = None
    settle_seconds: float = 0.3
    max_attempts: int = 8
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


def handle_inbound(ref: str, deps: InboundDeps) -> str:
    """Make sure this event (and everything before it in its conversation) is applied.
    Returns the outcome for logs: 'done', 'already_done', 'dropped:<reason>'."""
    event = deps.store.load_event(ref)
    if event is None:
        deps.store.count(KIND, "dropped", "event_missing")
        log_outcome(ref, "klaviyo", "dropped", reason="event_missing")
        return "dropped:event_missing"
    if event.get("state") in FINAL_STATES:
        return "already_done"
    queue = event.get("queue")
    if not queue:  # unroutable: only screening can happen, and it drops
        prepared = _prepare(ref, event, deps)
        reason = prepared.reason if isinstance(prepared, Drop) else "unroutable"
        _drop(ref, reason, deps, event)
        return f"dropped:{reason}"
    drain(queue, deps)
    return "done"


def drain(queue: str, deps: InboundDeps) -> None:
    """Apply the conversation's waiting texts in send order, under its lock.

    Raises ConversationBusy if another worker holds the lock, and lets retryable upstream
    errors out (the task retries with backoff). A head text that fails permanently or runs out
    of attempts is set aside into failed jobs, so later texts are not blocked forever.
    """
    while True:
        lock = deps.store.queue_lock(queue)
        if not lock.acquire():
            raise ConversationBusy(f"conversation queue busy ({len(queue)} chars)")
        try:
            while (member := deps.store.head(queue)) is not None:
                _process_head(queue, member, deps)
                lock.extend(120, replace_ttl=True)
        finally:
            try:
                lock.release()
            except Exception:  # noqa: BLE001 - expired lock: nothing to release
                pass
        if deps.store.head(queue) is None:
            return


def _process_head(queue: str, member: str, deps: InboundDeps) -> None:
    ref = member.split("|", 1)[1]
    event = deps.store.load_event(ref)
    if event is None or event.get("state") in FINAL_STATES:
        deps.store.remove_pending(queue, member)
        return
    waited = deps.clock() - float(event.get("received_at") or 0)
    if waited < deps.settle_seconds:
        # Give texts sent just before this one (in flight in other deliveries) time to land.
        deps.sleep(deps.settle_seconds - waited)
        if deps.store.head(queue) != member:
            return
    try:
        prepared = event.get("prepared") or _prepare(ref, event, deps)
        if isinstance(prepared, Drop):
            _drop(ref, prepared.reason, deps, event)
            deps.store.remove_pending(queue, member)
            return
        ticket_id = _apply(ref, prepared, prepared["phone"], prepared["brand"], deps)
    except Permanent as e:
        _set_aside(ref, queue, member, e, deps.store.bump_attempts(ref, str(e)), deps)
        return
    except Exception as e:
        attempts = deps.store.bump_attempts(ref, str(e))
        if attempts >= deps.max_attempts:
            _set_aside(ref, queue, member, e, attempts, deps)
            return
        raise
    deps.store.update_event(ref, state="done", ticket_id=ticket_id, done_at=deps.clock())
    deps.store.remove_pending(queue, member)
    deps.store.count(KIND, "processed")
    log_outcome(ref, "klaviyo", "applied", ticket_id=ticket_id,
                latency=deps.clock() - float(event.get("received_at") or deps.clock()))


def _prepare(ref: str, event: dict[str, Any], deps: InboundDeps) -> dict[str, Any] | Drop:
    """Screen the text (S1-S3) and work out everything applying it needs; kept on the event
    so a retry does not ask Klaviyo again."""
    try:
        sms = parse_inbound_sms(event["data"])
    except EventShapeError:
        return Drop("malformed_event")
    drop = rules.screen(sms, deps.policy)
    if drop:
        return drop
    profile = _profile(sms.profile_id, sms.customer_phone, deps)
    drop = rules.check_consent(profile)
    if drop:
        return drop
    assert profile is not None
    phone = sms.customer_phone or profile.phone
    if phone is None:
        return Drop("no_customer_phone")
    prepared = {"phone": phone, "brand": canonical_brand_number(sms.brand_number),
                "body": rules.comment_body(sms),
                "subject": rules.ticket_subject(replace(sms, customer_phone=phone), deps.policy),
                "name": profile.display_name or mask(phone), "email": profile.email}
    deps.store.update_event(ref, prepared=prepared)
    return prepared


def _profile(profile_id: str | None, phone: str | None, deps: InboundDeps) -> Profile | None:
    if profile_id:
        cached = deps.store.cached_profile(profile_id)
        if cached:
            return cached
        profile = deps.klaviyo.get_profile(profile_id)
    elif phone:
        profile = deps.klaviyo.find_profile_by_phone(phone)
    else:
        return None
    if profile is not None:
        deps.store.cache_profile(profile)
    return profile


def _set_aside(ref: str, queue: str, member: str, error: Exception, attempts: int,
               deps: InboundDeps) -> None:
    deps.store.update_event(ref, state="failed")
    deps.store.record_failure(ref, "bridge.inbound_sms", error, attempts, deps.clock())
    deps.store.remove_pending(queue, member)
    deps.store.count(KIND, "failed", type(error).__name__)
    log_outcome(ref, "klaviyo", "failed", reason=type(error).__name__, attempts=attempts)


def _apply(ref: str, prepared: dict[str, Any], phone: str, brand: str,
           deps: InboundDeps) -> int:
    """Write one text to Zendesk; returns the ticket id it landed on."""
    conv = deps.store.get_conversation(phone, brand) or _recover(phone, brand, prepared, deps)
    for _ in range(3):  # a 422/404 on comment changes the decision once
        decision = rules.decide_inbound(conv)
        if isinstance(decision, CreateTicket):
            conv = _create_ticket(ref, prepared, conv, decision, deps)
            deps.store.put_conversation(conv)
            assert conv.ticket_id is not None
            return conv.ticket_id
        assert isinstance(decision, AddComment)
        try:
            status = _add_comment(ref, prepared, conv, decision, deps)
        except TicketClosed:
            conv = replace(conv, ticket_status="closed")
            continue
        except TicketGone:
            conv = replace(conv, ticket_status="deleted")
            continue
        conv = replace(conv, ticket_status=status)
        deps.store.put_conversation(conv)
        return decision.ticket_id
    raise RuntimeError("ticket state kept changing while applying the text")


def _recover(phone: str, brand: str, prepared: dict[str, Any],
             deps: InboundDeps) -> Conversation:
    """Rebuild a lost conversation cache from Zendesk without risking a duplicate ticket.

    A newly created requester cannot have tickets, so a brand-new customer costs one call;
    otherwise the conversation's ticket is found by its external_id (never by search, which
    lags minutes behind writes).
    """
    requester_id, created = _ensure_requester(phone, prepared, deps)
    conv = Conversation(phone=phone, brand_number=brand, requester_id=requester_id)
    if created:
        return conv
    tickets = deps.zendesk.tickets_by_external_id(conv.external_id)
    if not tickets:
        return conv
    latest = max(tickets, key=lambda t: t.id)
    return replace(conv, ticket_id=latest.id, ticket_status=latest.status)


def _ensure_requester(phone: str, prepared: dict[str, Any], deps: InboundDeps) -> tuple[int, bool]:
    return deps.zendesk.create_or_update_user(
        name=prepared["name"], email=prepared.get("email"),
        external_id=requester_external_id(phone), phone=phone)


def _create_ticket(ref: str, prepared: dict[str, Any], conv: Conversation,
                   decision: CreateTicket, deps: InboundDeps) -> Conversation:
    requester_id = conv.requester_id
    if requester_id is None:
        requester_id, _ = _ensure_requester(conv.phone, prepared, deps)
    ticket: dict[str, Any] = {
        "subject": prepared["subject"],
        "comment": {"body": prepared["body"], "public": True, "author_id": requester_id},
        "requester_id": requester_id,
        "tags": ["sms", *deps.tags],
        "external_id": conv.external_id,
    }
    if decision.followup_of:
        ticket["via_followup_source_id"] = decision.followup_of
    if deps.group_id:
        ticket["group_id"] = deps.group_id
    if deps.brand_id:
        ticket["brand_id"] = deps.brand_id
    created = deps.zendesk.create_ticket(ticket, idempotency_key=f"zkb-{ref}-create")
    return replace(conv, ticket_id=created.id, ticket_status=created.status,
                   requester_id=requester_id)


def _add_comment(ref: str, prepared: dict[str, Any], conv: Conversation, decision: AddComment,
                 deps: InboundDeps) -> str | None:
    """PUT comment (+status). Before writing, record the intent; if a previous run recorded it
    for this ticket, look at the ticket's comments first: the write may already have landed."""
    intent = deps.store.get_intent(ref)
    if intent and intent.get("ticket_id") == decision.ticket_id:
        for c in deps.zendesk.comments(decision.ticket_id):
            # A matching comment not yet in our ledger is this event's write that landed
            # before the crash; earlier identical texts are in the ledger already.
            if c.author_id == conv.requester_id and c.body.strip() == prepared["body"].strip() \
                    and not deps.store.is_own_comment(c.id):
                deps.store.remember_own_comment(c.id)
                return rules.status_after_comment(decision, conv.ticket_status)
    deps.store.set_intent(ref, {"ticket_id": decision.ticket_id, "at": deps.clock()})
    _, comment_id = deps.zendesk.update_ticket(
        decision.ticket_id,
        comment={"body": prepared["body"], "public": True, "author_id": conv.requester_id},
        status=decision.status)
    if comment_id is not None:
        deps.store.remember_own_comment(comment_id)
    return rules.status_after_comment(decision, conv.ticket_status)


def _drop(ref: str, reason: str, deps: InboundDeps, event: dict[str, Any]) -> None:
    deps.store.update_event(ref, state="dropped", reason=reason)
    deps.store.count(KIND, "dropped", reason)
    log_outcome(ref, "klaviyo", "dropped", reason=reason,
                latency=deps.clock() - float(event.get("received_at") or deps.clock()))
