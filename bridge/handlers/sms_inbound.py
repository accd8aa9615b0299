"""Inbound SMS handler: load state -> decide (domain/sms_rules.py) -> apply to Zendesk (S1-S7).

`handle_inbound` is what the `bridge.inbound_sms` task runs. The receiver already put the text
in its conversation's queue (a Redis zset ordered by send time) when it acknowledged it; the
task drains that queue under the conversation lock, so a customer's texts are screened and
applied one at a time, in the order sent, while other conversations proceed in parallel on
other workers. Any task of a conversation can apply any of its texts.

Crash safety (E1) lives with the writes themselves, in inbound_writes.py. The event is marked
done only after the write, so a crash in between means "check, then maybe write", never "lose".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bridge.domain import sms_rules as rules
from bridge.domain.decisions import AddComment, CreateTicket, Drop
from bridge.domain.intents import PreparedText
from bridge.domain.model import WHATSAPP, Conversation, Profile, channel_of, conversation_brand
from bridge.domain.phones import canonical_brand_number, mask
from bridge.errors import TicketClosed, TicketGone
from bridge.handlers import bulk_inbound
from bridge.handlers import inbound_writes as writes
from bridge.handlers.notes import add_note_once
from bridge.handlers.reply_hold import wake_window_hold
from bridge.handlers.runner import Done, Runner
from bridge.payloads.klaviyo_events import EventShapeError
from bridge.payloads.whatsapp import parse_inbound
from bridge.ports import SmsApi, StorePort, TicketApi

KIND = "inbound_sms"
OPT_OUT_REQUEST = "opt_out_request"   # S10: the outcome's reason, counted on /metrics


@dataclass
class InboundDeps:
    store: StorePort
    zendesk: TicketApi
    klaviyo: SmsApi
    policy: rules.Policy
    tags: tuple[str, ...] = ()
    group_id: int | None = None
    brand_id: int | None = None
    bulk_writes: bool = False     # E6: under a backlog, writes wait for bulk jobs (bulk_stage)
    ticket_context: bool = True             # A9: a new ticket shows the customer's context
    context_field_id: int | None = None     # A9: the custom field that holds its text
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
    stored = event.get("prepared")
    prepared = PreparedText.from_json(stored) if stored else _prepare(ref, event, deps)
    if isinstance(prepared, Drop):
        if prepared.reason == "keyword_opt_out":
            _note_opt_out(ref, event, deps)
        return Done("dropped", prepared.reason)
    ticket_id, follows_solved = bulk_inbound.landed(ref, prepared, deps) \
        or _apply(ref, prepared, deps)
    if follows_solved is not None:
        add_note_once(f"s11:{ref}", ticket_id, rules.follows_solved_note(follows_solved),
                      deps.store, deps.zendesk, deps.clock)
    if channel_of(prepared.brand) == WHATSAPP:
        _customer_wrote(event, prepared, ticket_id, deps)
    if prepared.opt_out_request:
        # S10: the tag went in with the text's own write; the note is the one extra call.
        add_note_once(f"optout-request:{ref}", ticket_id, rules.opt_out_request_note(), deps.store,
                      deps.zendesk, deps.clock)
    return Done("applied", OPT_OUT_REQUEST if prepared.opt_out_request else "",
                fields={"ticket_id": ticket_id})


def _prepare(ref: str, event: dict[str, Any], deps: InboundDeps) -> PreparedText | Drop:
    """Screen the text (S1-S3) and work out everything applying it needs; kept on the event
    so a retry does not ask Klaviyo again."""
    try:
        sms = parse_inbound(event["data"])       # a text, or a WhatsApp message (S9)
    except EventShapeError:
        return Drop("malformed_event")
    drop = rules.screen(sms, deps.policy)
    if drop:
        return drop
    profile = _profile(sms.profile_id, sms.customer_phone, deps)
    drop = rules.check_consent(profile, sms.channel)
    if drop or profile is None:
        return drop or Drop("not_consented")
    phone = sms.customer_phone or profile.phone
    if phone is None:
        return Drop("no_customer_phone")
    prepared = PreparedText(
        phone=phone,
        brand=conversation_brand(sms.channel, canonical_brand_number(sms.brand_number)),
        body=rules.comment_body(sms),
        subject=rules.ticket_subject(replace(sms, customer_phone=phone), deps.policy,
                                     name=profile.display_name),
        name=profile.display_name or mask(phone), email=profile.email,
        opt_out_request=rules.opt_out_request(sms, deps.policy),
        profile_id=profile.id, consent=profile.sms_consent)
    deps.store.events.update_event(ref, prepared=prepared.to_json())
    return prepared


def _customer_wrote(event: dict[str, Any], prepared: PreparedText, ticket_id: int,
                    deps: InboundDeps) -> None:
    """S9: WhatsApp's 24-hour window runs from the customer's last message: note its time, and
    wake a reply held on the ticket because the window had closed (it may go out now)."""
    sent_at = parse_inbound(event["data"]).sent_at.timestamp()
    deps.store.conversations.customer_wrote(prepared.phone, prepared.brand, sent_at)
    wake_window_hold(ticket_id, deps.store, deps.clock())


def _note_opt_out(ref: str, event: dict[str, Any], deps: InboundDeps) -> None:
    """S2: an opt-out from a customer whose conversation has a not-closed ticket leaves one
    internal note there (the conversation cache says which ticket; no extra lookup)."""
    sms = parse_inbound(event["data"])
    if sms.customer_phone is None:
        return
    brand = conversation_brand(sms.channel, canonical_brand_number(sms.brand_number))
    conv = deps.store.conversations.get_conversation(sms.customer_phone, brand)
    if conv is None or conv.ticket_id is None or conv.ticket_status == "closed":
        return
    add_note_once(f"optout:{ref}", conv.ticket_id, rules.opt_out_note(), deps.store,
                  deps.zendesk, deps.clock)


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


def _apply(ref: str, prepared: PreparedText, deps: InboundDeps) -> tuple[int, int | None]:
    """Write one text to Zendesk; returns the ticket id it landed on and, when the text opened
    a new ticket instead of reopening a long-solved one (S11), that solved ticket's id."""
    conv = deps.store.conversations.get_conversation(prepared.phone, prepared.brand)
    if conv is None:
        conv = bulk_inbound.recovered(ref, prepared, deps)      # E6: staged under a backlog
        # a retry (e.g. after a budget wait) starts here
        deps.store.conversations.put_conversation(conv)
    resumed = writes.resume_create(ref, prepared, conv, deps)
    if resumed is not None and resumed.ticket_id is not None:
        deps.store.conversations.put_conversation(resumed)
        return resumed.ticket_id, writes.resumed_follows_solved(ref, deps)
    for _ in range(3):  # a 422/404 on comment changes the decision once
        decision = rules.decide_inbound(conv, deps.clock(), deps.policy.solved_reopen_hours)
        if isinstance(decision, CreateTicket):
            conv = writes.create_ticket(ref, prepared, conv, decision, deps)
            deps.store.conversations.put_conversation(conv)
            return decision_ticket(conv), decision.follows_solved
        if not isinstance(decision, AddComment):
            raise RuntimeError(f"unexpected decision {decision!r}")
        try:
            status = writes.add_comment(ref, prepared, conv, decision, deps)
        except TicketClosed:
            conv = replace(conv, ticket_status="closed")
            continue
        except TicketGone:
            conv = replace(conv, ticket_status="deleted")
            continue
        conv = replace(conv, ticket_status=status, solved_at=None)   # not solved now (S11)
        deps.store.conversations.put_conversation(conv)
        return decision.ticket_id, None
    raise RuntimeError("ticket state kept changing while applying the text")


def decision_ticket(conv: Conversation) -> int:
    """The ticket a creation left in the conversation (always set after a POST)."""
    if conv.ticket_id is None:
        raise RuntimeError("a created ticket has no id")
    return conv.ticket_id
