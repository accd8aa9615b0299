"""Agent replies in Zendesk -> SMS to the customer through Klaviyo (A1-A6).

Runs per ticket, in comment order (`runner.Runner` on the queue `reply|<ticket id>` that the
receiver fills). For each agent comment: screen it (A1/A2), look at the customer as they are
now (A3 email, A4 consent), then send it exactly once (A6), unless it must wait: quiet hours
(A8) or the customer's request to stop (S10) hold it (`reply_hold`).

Exactly one SMS per comment id (A6): before calling Klaviyo the bridge records "sending" for the
comment id (SET NX, with the profile it goes to); after Klaviyo's 202 it records "sent". A
refused or throttled call clears the record (nothing was sent), so it is retried. A send Klaviyo
did not answer (a timeout after it was sent), or a "sending" record a dead worker left, is
settled by `reply_settle`: evidence it went out -> sent; none after REPLY_CONFIRM_SECONDS with
Klaviyo answering -> sent once more; Klaviyo not answering -> not sent twice: a note tells the
agent and the reply waits in failed jobs as `ReplyOutcomeUnknown`, whose replay settles again.
A reply that fails for good (no SMS conversation in Klaviyo) also leaves a note.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from bridge.domain import reply_rules
from bridge.domain.model import Budget, Conversation, channel_of
from bridge.domain.reply_text import segments
from bridge.errors import (
    Deferred,
    Permanent,
    RateLimited,
    ReplyOutcomeUnknown,
    Retryable,
)
from bridge.handlers import whatsapp_reply
from bridge.handlers.notes import delivery_note
from bridge.handlers.reply_hold import Holding, HoldPolicy, hold_if_due, hold_refused
from bridge.handlers.reply_settle import Settling, Verdict, settle
from bridge.handlers.runner import Done, Runner
from bridge.payloads.zendesk_events import agent_comment, conversation_of
from bridge.ports import QuotaPort, SmsApi, StorePort, TicketApi

log = logging.getLogger("zkbridge.replies")
KIND = "agent_reply"
PEER_GRACE_SECONDS = 60   # a "sending" record younger than this may be a live peer
CHECK_FIRST = 10.0        # after an unanswered send, the first look for its echo (A6)
SHORT_WAIT = 1.0          # a reserved slot this close is slept for in the task


@dataclass
class ReplyDeps:
    store: StorePort
    zendesk: TicketApi
    klaviyo: SmsApi
    quota: QuotaPort
    budget: Budget
    mode: str = "conversations"        # or "flow_event"
    max_attempts: int = 8
    settle_seconds: float = 1.0
    confirm_seconds: float = 120.0     # REPLY_CONFIRM_SECONDS (A6)
    reserve_slots: bool = True         # a reply refused by the budget reserves its slot (E3)
    holds: HoldPolicy = field(default_factory=HoldPolicy)   # A8 quiet hours, S10 (reply_hold)
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


def runner(deps: ReplyDeps) -> Runner:
    return Runner(store=deps.store, kind=KIND, source="zendesk", task="bridge.zendesk_event",
                  process=lambda ref, event: process_comment(ref, event, deps),
                  max_attempts=deps.max_attempts, settle_seconds=deps.settle_seconds,
                  clock=deps.clock, sleep=deps.sleep)


def process_comment(ref: str, event: dict[str, Any], deps: ReplyDeps) -> Done:
    """Screen one agent comment (A1/A2), then reply to the customer with it, once (A3-A6)."""
    data = event["data"]
    comment = agent_comment(data)
    if comment is None:
        return Done("dropped", "malformed_event")
    where = conversation_of(data) or deps.store.conversations.ticket_conversation(
        comment.ticket_id)
    drop = reply_rules.screen_comment(
        comment, sms_ticket=where is not None,
        written_by_bridge=_written_by_bridge(comment, deps))
    if drop is not None or where is None:
        return Done("dropped", drop.reason if drop else "not_sms_ticket")
    previous = deps.store.ledger.reply_state(comment.comment_id)
    if previous is not None and previous.get("state") == "sent":
        return _already_sent(comment, deps)
    if previous is not None and not _settled_unsent(comment, previous, where, deps):
        return _deliver_done(comment, comment.text, "confirmed_sent", deps)
    holding = Holding(deps.store, deps.zendesk, deps.klaviyo, deps.holds, deps.clock)
    how = hold_if_due(ref, event, comment, where[0], holding, brand=where[1])
    try:
        return _reply(comment, *where, deps, how)
    except Permanent as e:
        if whatsapp_reply.refused_for_window(where[1], e):
            hold_refused(ref, event, comment, holding)     # S9: held, one note
        if not isinstance(e, ReplyOutcomeUnknown):
            delivery_note(comment.ticket_id, comment.comment_id, "failed",
                          reply_rules.failed_note(str(e)), deps.store, deps.zendesk, deps.clock)
        raise


def _reply(comment: reply_rules.AgentComment, phone: str, brand: str, deps: ReplyDeps,
           how: str = "free_form") -> Done:
    """Look at the customer as they are now (A3 email, A4 consent), then send (A6). `how` is
    "template" for a WhatsApp reply sent through the template flow (S9)."""
    conv = deps.store.conversations.get_conversation(phone, brand) or Conversation(phone, brand)
    mode = whatsapp_reply.reply_mode(deps.mode, brand)
    grant = _take_send_token(comment.comment_id, deps, mode) if how != "template" else None
    try:
        profile = deps.klaviyo.find_profile_by_phone(phone)    # consent as it is now (A4)
        decision = reply_rules.decide_reply(comment, agent_email=_agent_email(comment, deps),
                                            profile=profile, channel=channel_of(brand))
        if isinstance(decision, reply_rules.NoteInstead):
            _refund(grant, deps)
            grant = None
            _note_once(comment.ticket_id, f"{comment.comment_id}:{decision.reason}",
                       decision.note, deps)
            return Done("dropped", decision.reason, {"ticket_id": comment.ticket_id})
        if profile is None:
            raise RuntimeError("a reply was decided without the customer's profile")
        if how == "template":
            return whatsapp_reply.send_template(comment, decision.text, conv, deps)
        if mode == "conversations":
            conv = _conversation_of(conv, profile.id, deps)
    except Exception:
        _refund(grant, deps)
        raise
    return _deliver(comment, decision, conv, deps, grant)



def _take_send_token(comment_id: int, deps: ReplyDeps, mode: str) -> str | None:
    """Take the send's token first: a reply waiting for the budget then costs no API call per
    retry. Until the send itself, the token is given back if the reply stops (a note instead,
    a lookup held back by its own budget, an error), so it is not spent twice. Refused, the
    reply holds a reservation of the next free slot and waits for it (no herd, #14); a slot
    less than SHORT_WAIT away is waited for here rather than by a new message."""
    if mode != "conversations":
        return None
    holder = f"reply:{comment_id}" if deps.reserve_slots else None
    for _ in range(3):
        wait, grant = deps.quota.grant(deps.budget, holder=holder)
        if wait <= 0 or wait > SHORT_WAIT or holder is None:
            break
        deps.sleep(wait)
    if wait > 0:
        deferred = Deferred(wait, "conversation-message budget spent for now")
        deferred.scheduled = holder is not None and deps.quota.slot_already_held
        raise deferred
    return grant


def _refund(grant: str | None, deps: ReplyDeps) -> None:
    if grant:
        deps.quota.refund(grant, deps.budget)


def _deliver(comment: reply_rules.AgentComment, decision: reply_rules.SendReply,
             conv: Conversation, deps: ReplyDeps, grant: str | None = None) -> Done:
    if whatsapp_reply.reply_mode(deps.mode, conv.brand_number) == "flow_event":
        _record_flow_event(comment, decision.text, conv.phone, conv.brand_number, deps)
    else:
        _send(comment.comment_id, decision.text, conv, deps, grant)
    deps.store.ledger.remember_sent_text(conv.phone, decision.text)
    if decision.note:
        _note_once(comment.ticket_id, f"{comment.comment_id}:attachments", decision.note, deps)
    return _deliver_done(comment, decision.text, "", deps)


def _deliver_done(comment: reply_rules.AgentComment, text: str, reason: str,
                  deps: ReplyDeps) -> Done:
    encoding, parts = segments(text)
    return Done("applied", reason, {"ticket_id": comment.ticket_id, "mode": deps.mode,
                                    "encoding": encoding, "segments": parts})


def _written_by_bridge(comment: reply_rules.AgentComment, deps: ReplyDeps) -> bool:
    """The ledger of comment ids, or (for comments in the requester's name, whose id the bridge
    may not know yet, like a ticket's first comment) the ledger of texts it posted in the
    requester's name."""
    if deps.store.ledger.is_own_comment(comment.comment_id):
        return True
    return comment.author_id is not None and comment.author_id == comment.requester_id \
        and deps.store.ledger.was_posted(comment.author_id, comment.body)


def _already_sent(comment: reply_rules.AgentComment, deps: ReplyDeps) -> Done:
    if comment.attachment_count and comment.text.strip():
        # The attempt that sent it may have stopped before leaving its note.
        _note_once(comment.ticket_id, f"{comment.comment_id}:attachments",
                   reply_rules.attachments_note(comment.attachment_count), deps)
    return Done("dropped", "already_sent")


def _settled_unsent(comment: reply_rules.AgentComment, previous: dict[str, Any],
                    where: tuple[str, str], deps: ReplyDeps) -> bool:
    """A previous attempt got no answer (or died): settle it (A6). True when it certainly did
    not go out (send it again); False when it did (recorded as sent); raises while unsure."""
    at = float(previous.get("at") or 0)
    if not previous.get("unanswered") and deps.clock() - at < PEER_GRACE_SECONDS:
        raise Deferred(5, "another attempt may still be sending this reply")
    phone = where[0]
    verdict = settle(comment.comment_id, comment.text, phone, previous,
                     Settling(deps.store.ledger, deps.klaviyo, deps.confirm_seconds,
                              deps.clock, whatsapp_reply.received_metric(where[1])))
    if verdict is Verdict.SENT:
        deps.store.ledger.finish_reply(comment.comment_id, deps.clock())
        deps.store.ledger.remember_sent_text(phone, comment.text)
        deps.store.outcomes.count(KIND, "settled", "sent")
        return False
    if verdict is Verdict.NOT_SENT:
        deps.store.ledger.abandon_reply(comment.comment_id)
        deps.store.outcomes.count(KIND, "settled", "resent")
        return True
    deps.store.outcomes.count(KIND, "outcome_unknown")
    delivery_note(comment.ticket_id, comment.comment_id, "outcome_unknown",
                  reply_rules.outcome_unknown_note(), deps.store, deps.zendesk, deps.clock)
    raise ReplyOutcomeUnknown("klaviyo", "Klaviyo did not answer whether this reply went out; "
                                         "not sent again (replay to check again)")


def _conversation_of(conv: Conversation, profile_id: str, deps: ReplyDeps) -> Conversation:
    """The conversation with its Klaviyo conversation id on its channel (SMS, or WhatsApp:
    S9), looked up once, then cached."""
    if conv.profile_id == profile_id and conv.klaviyo_conversation_id:
        return conv
    channel = channel_of(conv.brand_number)
    conversation_id = deps.klaviyo.channel_conversation(profile_id, channel)
    if conversation_id is None:
        raise Permanent("klaviyo", f"the customer has no {whatsapp_reply.channel_name(channel)} "
                                   "conversation in Klaviyo")
    conv = replace(conv, profile_id=profile_id, klaviyo_conversation_id=conversation_id)
    if conv.ticket_id is not None:
        deps.store.conversations.put_conversation(conv)
    return conv


def _send(comment_id: int, text: str, conv: Conversation, deps: ReplyDeps,
          grant: str | None) -> None:
    """Send once (A6). The token is confirmed first: its time becomes the send's, so the
    customer lookups between grant and send never bring two sends closer than Klaviyo allows."""
    conversation_id = conv.klaviyo_conversation_id
    if conversation_id is None:
        raise RuntimeError("no Klaviyo conversation to send the reply on")
    if grant is not None and (wait := deps.quota.confirm(grant, deps.budget)) > 0:
        raise Deferred(wait, "conversation-message budget filled while the reply was prepared")
    began = deps.clock()
    if not deps.store.ledger.begin_reply(comment_id, began, profile_id=conv.profile_id):
        raise Deferred(5, "another attempt is sending this reply")
    try:
        deps.klaviyo.send_conversation_message(conversation_id, text)
    except RateLimited:
        deps.store.ledger.abandon_reply(comment_id)
        raise
    except Retryable as e:
        if not e.maybe_applied:
            deps.store.ledger.abandon_reply(comment_id)
            raise
        # No answer: it may be on the phone. Settle it (reply_settle), without an attempt.
        deps.store.ledger.update_reply(comment_id, {"state": "sending", "at": began,
                                                    "profile_id": conv.profile_id,
                                                    "unanswered": True})
        raise Deferred(CHECK_FIRST, "Klaviyo did not answer a send; looking for it") from e
    except Permanent:
        deps.store.ledger.abandon_reply(comment_id)
        raise
    deps.store.ledger.finish_reply(comment_id, deps.clock())


def _record_flow_event(comment: reply_rules.AgentComment, text: str, phone: str, brand: str,
                       deps: ReplyDeps) -> None:
    """SMS_REPLY_MODE=flow_event: a metric-triggered flow sends the text. Idempotent by
    `unique_id` = comment id, so no sending/sent record is needed."""
    deps.klaviyo.create_event(metric="Zendesk Agent Reply",
                              profile={"phone_number": phone},
                              properties={"body": text, "ticket_id": comment.ticket_id,
                                          "brand_number": brand},
                              unique_id=f"zendesk-comment-{comment.comment_id}")
    deps.store.ledger.finish_reply(comment.comment_id, deps.clock())


def _agent_email(comment: reply_rules.AgentComment, deps: ReplyDeps) -> str | None:
    if comment.author_id is None:
        return None
    email = deps.store.conversations.agent_email(comment.author_id)
    if email is None:
        email = deps.zendesk.user(comment.author_id).get("email") or ""
        deps.store.conversations.cache_agent_email(comment.author_id, email)
    return email or None


def _note_once(ticket_id: int, key: str, body: str, deps: ReplyDeps) -> None:
    comment_id, reason = key.split(":", 1)
    delivery_note(ticket_id, int(comment_id), reason, body, deps.store, deps.zendesk, deps.clock)

