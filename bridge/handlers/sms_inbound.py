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

from bridge.domain import sms_rules as rules
from bridge.domain.decisions import AddComment, CreateTicket, Drop
from bridge.domain.model import Conversation, Profile, Ticket, requester_external_id
from bridge.domain.phones import canonical_brand_number, mask
from bridge.errors import RateLimited, TicketClosed, TicketGone
from bridge.handlers.runner import Done, Runner
from bridge.payloads.klaviyo_events import EventShapeError, parse_inbound_sms
from bridge.ports import SmsApi, StorePort, TicketApi

KIND = "inbound_sms"
# Zendesk keeps an Idempotency-Key for 2 hours; replaying a creation is safe well inside that.
ZENDESK_IDEMPOTENCY_SECONDS = 2 * 3600 - 600


@dataclass
class InboundDeps:
    store: StorePort
    zendesk: TicketApi
    klaviyo: SmsApi
    policy: rules.Policy
    tags: tuple[str, ...] = ()
    group_id: int | None = None
    brand_id: int | None = None
    settle_seconds: float = 0.3
    max_attempts: int = 8
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


def runner(deps: InboundDeps) -> Runner:
    return Runner(store=deps.store, kind=KIND, source="klaviyo", task="bridge.inbound_sms",
                  process=lambda ref, event: process_text(ref, event, deps),
                  max_attempts=deps.max_attempts, settle_seconds=deps.settle_seconds,
                  clock=deps.clock, sleep=deps.sleep)


def handle_inbound(ref: str, deps: InboundDeps) -> str:
    """Make sure this text, and every text before it in its conversation, is applied."""
    return runner(deps).run_event(ref)


def process_text(ref: str, event: dict[str, Any], deps: InboundDeps) -> Done:
    """Screen one text and apply it to Zendesk (called in conversation order)."""
    prepared = event.get("prepared") or _prepare(ref, event, deps)
    if isinstance(prepared, Drop):
        return Done("dropped", prepared.reason)
    ticket_id = _apply(ref, prepared, prepared["phone"], prepared["brand"], deps)
    return Done("applied", fields={"ticket_id": ticket_id})


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
    deps.store.events.update_event(ref, prepared=prepared)
    return prepared


def _profile(profile_id: str | None, phone: str | None, deps: InboundDeps) -> Profile | None:
    if profile_id:
        cached = deps.store.conversations.cached_profile(profile_id)
        if cached:
            return cached
        profile = deps.klaviyo.get_profile(profile_id)
    elif phone:
        profile = deps.klaviyo.find_profile_by_phone(phone)
    else:
        return None
    if profile is not None:
        deps.store.conversations.cache_profile(profile)
    return profile


def _apply(ref: str, prepared: dict[str, Any], phone: str, brand: str,
           deps: InboundDeps) -> int:
    """Write one text to Zendesk; returns the ticket id it landed on."""
    conv = deps.store.conversations.get_conversation(phone, brand)
    if conv is None:
        conv = _recover(phone, brand, prepared, deps)
        # a retry (e.g. after a budget wait) starts here
        deps.store.conversations.put_conversation(conv)
    resumed = _resume_create(ref, prepared, conv, deps)
    if resumed is not None:
        deps.store.conversations.put_conversation(resumed)
        assert resumed.ticket_id is not None
        return resumed.ticket_id
    for _ in range(3):  # a 422/404 on comment changes the decision once
        decision = rules.decide_inbound(conv)
        if isinstance(decision, CreateTicket):
            conv = _create_ticket(ref, prepared, conv, decision, deps)
            deps.store.conversations.put_conversation(conv)
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
        deps.store.conversations.put_conversation(conv)
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
    """POST the ticket, with an intent recorded first (see `_resume_create`).

    The text is also remembered as posted in the requester's name before the write, so the
    ticket's first comment coming back as a webhook is known as the bridge's own (A2) even if
    this worker dies before Zendesk answers.
    """
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
    intent = {"create": True, "at": deps.clock(), "ticket": ticket,
              "after": decision.followup_of or conv.ticket_id or 0}
    deps.store.ledger.set_intent(ref, intent)
    deps.store.ledger.remember_posted(requester_id, prepared["body"])
    created = deps.zendesk.create_ticket(ticket, idempotency_key=_create_key(ref))
    deps.store.ledger.set_intent(ref, {**intent, "ticket_id": created.id})
    return replace(conv, ticket_id=created.id, ticket_status=created.status,
                   requester_id=requester_id)


def _create_key(ref: str) -> str:
    return f"zkb-{ref}-create"


def _resume_create(ref: str, prepared: dict[str, Any], conv: Conversation,
                   deps: InboundDeps) -> Conversation | None:
    """After a crash: the conversation this text's ticket creation left, or None if it has none.

    The conversation cache is written after the POST, so a worker that died in between leaves
    a cache (or a recovered conversation) that already points at the new ticket, and a plain
    re-run would add the text to it a second time. The intent says a creation was started:
    within Zendesk's idempotency window the same POST with the same key answers with the ticket
    the first attempt created (or creates it, if that attempt never landed); after it, the
    ticket is looked for among the conversation's tickets newer than the one it followed.
    """
    intent = deps.store.ledger.get_intent(ref)
    if not intent or not intent.get("create"):
        return None
    ticket = intent["ticket"]
    if intent.get("ticket_id") is not None:
        ticket_id, status = int(intent["ticket_id"]), "new"
    elif deps.clock() - float(intent["at"]) < ZENDESK_IDEMPOTENCY_SECONDS:
        created = deps.zendesk.create_ticket(ticket, idempotency_key=_create_key(ref))
        ticket_id, status = created.id, created.status
        deps.store.ledger.set_intent(ref, {**intent, "ticket_id": ticket_id})
    else:
        found = _find_created(conv.external_id, int(intent.get("after") or 0),
                              int(ticket["requester_id"]), prepared["body"], deps)
        if found is None:
            return None
        ticket_id, status = found.id, found.status
    if conv.ticket_id == ticket_id:
        return conv                      # the cache was written: its status is the newer one
    return replace(conv, ticket_id=ticket_id, ticket_status=status,
                   requester_id=int(ticket["requester_id"]))


def _find_created(external_id: str, after: int, requester_id: int, body: str,
                  deps: InboundDeps) -> Ticket | None:
    for t in sorted(deps.zendesk.tickets_by_external_id(external_id), key=lambda t: t.id):
        if t.id <= after:
            continue
        first = next(iter(deps.zendesk.comments(t.id)), None)
        if first and first.author_id == requester_id and first.body.strip() == body.strip():
            return t
    return None


def _add_comment(ref: str, prepared: dict[str, Any], conv: Conversation, decision: AddComment,
                 deps: InboundDeps) -> str | None:
    """PUT comment (+status), at most once per text.

    Before writing, record the intent; after, record the new comment's id in the intent and the
    ledger together. A re-run that finds an intent without a comment id looks at the ticket's
    comments once: a matching comment that is not in the ledger is this text's write, landed
    before the crash (earlier identical texts are in the ledger already).
    """
    after = rules.status_after_comment(decision, conv.ticket_status)
    intent = deps.store.ledger.get_intent(ref)
    if intent and intent.get("ticket_id") == decision.ticket_id:
        if intent.get("comment_id"):
            return after
        for c in deps.zendesk.comments(decision.ticket_id):
            if c.author_id == conv.requester_id and c.body.strip() == prepared["body"].strip() \
                    and not deps.store.ledger.is_own_comment(c.id):
                deps.store.ledger.confirm_comment(ref, intent, c.id)
                return after
    intent = {"ticket_id": decision.ticket_id, "at": deps.clock()}
    deps.store.ledger.set_intent(ref, intent)
    if conv.requester_id is not None:
        deps.store.ledger.remember_posted(conv.requester_id, prepared["body"])
    try:
        _, comment_id = deps.zendesk.update_ticket(
            decision.ticket_id,
            comment={"body": prepared["body"], "public": True, "author_id": conv.requester_id},
            status=decision.status)
    except RateLimited:
        # Held back by a budget or answered 429: nothing was written, so the retry need not
        # read the ticket's comments (under a backlog that read would double the calls).
        deps.store.ledger.clear_intent(ref)
        raise
    if comment_id is not None:
        deps.store.ledger.confirm_comment(ref, intent, comment_id)
    return after
