"""The writes behind a customer's text (E1): a requester, a ticket or a comment, each at most
once across crashes.

Every upstream write is either idempotent by itself (ticket creation carries an Idempotency-Key
derived from the event) or preceded by an intent (bridge/domain/intents.py) that a re-run checks
against Zendesk before writing again (comments). The conversation cache and the event's "done"
are written after, so a crash in between means "check, then maybe write", never "lose".
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from bridge.domain import sms_rules as rules
from bridge.domain.decisions import AddComment, CreateTicket
from bridge.domain.intents import CommentIntent, CreationIntent, PreparedText, intent_from_json
from bridge.domain.model import Conversation, Ticket, channel_of, requester_external_id
from bridge.domain.opt_out import OPT_OUT_REQUEST_TAG
from bridge.errors import RateLimited
from bridge.handlers.bulk_stage import Staged, comment_payload, written
from bridge.handlers.ticket_context import creation_fields

if TYPE_CHECKING:
    from bridge.handlers.sms_inbound import InboundDeps

# Zendesk keeps an Idempotency-Key for 2 hours; replaying a creation is safe well inside that.
ZENDESK_IDEMPOTENCY_SECONDS = 2 * 3600 - 600


def recover(prepared: PreparedText, deps: InboundDeps) -> Conversation:
    """Rebuild a lost conversation cache from Zendesk without risking a duplicate ticket.

    A newly created requester cannot have tickets, so a brand-new customer costs one call;
    otherwise the conversation's ticket is found by its external_id (never by search, which
    lags minutes behind writes).
    """
    requester_id, created = ensure_requester(prepared, deps)
    conv = Conversation(phone=prepared.phone, brand_number=prepared.brand,
                        requester_id=requester_id)
    if created:
        return conv
    tickets = deps.zendesk.tickets_by_external_id(conv.external_id)
    if not tickets:
        return conv
    latest = max(tickets, key=lambda t: t.id)
    return replace(conv, ticket_id=latest.id, ticket_status=latest.status)


def ensure_requester(prepared: PreparedText, deps: InboundDeps) -> tuple[int, bool]:
    """create_or_update the requester. When what the bridge sent is what Zendesk now holds as
    the profile's identity (M3: email, else phone) — matched or made by that email, or made
    new — it is remembered a day, so the ticket's Opened Ticket needs no read (E6)."""
    requester_id, created = deps.zendesk.create_or_update_user(
        name=prepared.name, email=prepared.email,
        external_id=requester_external_id(prepared.phone), phone=prepared.phone)
    if prepared.email or created:
        deps.store.ledger.remember_made_requester(requester_id, {
            "id": requester_id, "email": prepared.email, "phone": prepared.phone})
    return requester_id, created


def create_ticket(ref: str, prepared: PreparedText, conv: Conversation,
                  decision: CreateTicket, deps: InboundDeps) -> Conversation:
    """POST the ticket, with an intent recorded first (see `resume_create`).

    The text is also remembered as posted in the requester's name before the write, so the
    ticket's first comment coming back as a webhook is known as the bridge's own (A2) even if
    this worker dies before Zendesk answers.
    """
    requester_id = conv.requester_id
    if requester_id is None:
        requester_id, _ = ensure_requester(prepared, deps)
    intent = CreationIntent(at=deps.clock(),
                            ticket=_ticket_body(prepared, conv, decision, requester_id, deps),
                            after=decision.followup_of or conv.ticket_id or 0,
                            follows_solved=decision.follows_solved)
    deps.store.ledger.set_intent(ref, intent.to_json())
    deps.store.ledger.remember_posted(requester_id, prepared.body)
    created = written(ref, deps, "ticket", {"intent": intent.to_json()},   # E6: or a bulk job
                      lambda: deps.zendesk.create_ticket(intent.ticket,
                                                         idempotency_key=_create_key(ref)))
    requester = deps.store.ledger.made_requester(requester_id)
    if requester is not None and created.doc:
        deps.store.ledger.remember_made_ticket(created.id, {
            "ticket": {k: created.doc.get(k) for k in MADE_FIELDS}, "requester": requester})
    deps.store.ledger.set_intent(ref, intent.created(created.id).to_json())
    return replace(conv, ticket_id=created.id, ticket_status=created.status,
                   requester_id=requester_id, solved_at=None)


MADE_FIELDS = ("id", "subject", "description", "priority", "type", "status", "tags", "via",
               "custom_fields", "assignee_id", "group_id", "requester_id")


def _ticket_body(prepared: PreparedText, conv: Conversation, decision: CreateTicket,
                 requester_id: int, deps: InboundDeps) -> dict[str, Any]:
    context = creation_fields(prepared, deps)            # A9, in the same call
    ticket: dict[str, Any] = {
        "subject": prepared.subject,
        "comment": {"body": prepared.body, "public": True, "author_id": requester_id},
        "requester_id": requester_id,
        # `sms`, or `whatsapp` for a WhatsApp conversation (S9)
        "tags": [channel_of(prepared.brand), *deps.tags, *request_tags(prepared),
                 *context.get("tags", [])],
        "external_id": conv.external_id,
    }
    if "custom_fields" in context:
        ticket["custom_fields"] = context["custom_fields"]
    if decision.followup_of:
        ticket["via_followup_source_id"] = decision.followup_of
    if deps.group_id:
        ticket["group_id"] = deps.group_id
    if deps.brand_id:
        ticket["brand_id"] = deps.brand_id
    return ticket


def request_tags(prepared: PreparedText) -> list[str]:
    """Tags the text itself asks for (S10), carried in the write that adds the text: no call."""
    return [OPT_OUT_REQUEST_TAG] if prepared.opt_out_request else []


def resumed_follows_solved(ref: str, deps: InboundDeps) -> int | None:
    """The solved ticket a resumed creation follows (S11), from its intent (crash path only)."""
    intent = intent_from_json(deps.store.ledger.get_intent(ref))
    return intent.follows_solved if isinstance(intent, CreationIntent) else None


def _create_key(ref: str) -> str:
    return f"zkb-{ref}-create"


def resume_create(ref: str, prepared: PreparedText, conv: Conversation,
                  deps: InboundDeps) -> Conversation | None:
    """After a crash: the conversation this text's ticket creation left, or None if it has none.

    The conversation cache is written after the POST, so a worker that died in between leaves
    a cache (or a recovered conversation) that already points at the new ticket, and a plain
    re-run would add the text to it a second time. The intent says a creation was started:
    within Zendesk's idempotency window the same POST with the same key answers with the ticket
    the first attempt created (or creates it, if that attempt never landed); after it, the
    ticket is looked for among the conversation's tickets newer than the one it followed.
    """
    intent = intent_from_json(deps.store.ledger.get_intent(ref))
    if not isinstance(intent, CreationIntent):
        return None
    if intent.ticket_id is not None:
        ticket_id, status = intent.ticket_id, "new"
    elif not intent.bulk and deps.clock() - intent.at < ZENDESK_IDEMPOTENCY_SECONDS:
        created = deps.zendesk.create_ticket(intent.ticket, idempotency_key=_create_key(ref))
        ticket_id, status = created.id, created.status
        deps.store.ledger.set_intent(ref, intent.created(ticket_id).to_json())
    else:
        found = _find_created(conv.external_id, intent, prepared.body, deps)
        if found is None:
            return None
        ticket_id, status = found.id, found.status
    if conv.ticket_id == ticket_id:
        return conv                      # the cache was written: its status is the newer one
    return replace(conv, ticket_id=ticket_id, ticket_status=status,
                   requester_id=intent.requester_id, solved_at=None)


def _find_created(external_id: str, intent: CreationIntent, body: str,
                  deps: InboundDeps) -> Ticket | None:
    for t in sorted(deps.zendesk.tickets_by_external_id(external_id), key=lambda t: t.id):
        if t.id <= intent.after:
            continue
        first = next(iter(deps.zendesk.comments(t.id)), None)
        if first and first.author_id == intent.requester_id \
                and first.body.strip() == body.strip():
            return t
    return None


def add_comment(ref: str, prepared: PreparedText, conv: Conversation, decision: AddComment,
                deps: InboundDeps) -> str | None:
    """PUT comment (+status), at most once per text.

    Before writing, record the intent; after, record the new comment's id in the intent and the
    ledger together. A re-run that finds an intent without a comment id looks at the ticket's
    comments once: a matching comment that is not in the ledger is this text's write, landed
    before the crash (earlier identical texts are in the ledger already).
    """
    after = rules.status_after_comment(decision, conv.ticket_status)
    if _landed_before(ref, prepared, conv, decision, deps):
        return after
    intent = CommentIntent(ticket_id=decision.ticket_id, at=deps.clock())
    deps.store.ledger.set_intent(ref, intent.to_json())
    if conv.requester_id is not None:
        deps.store.ledger.remember_posted(conv.requester_id, prepared.body)
    update = {"comment": {"body": prepared.body, "public": True,
                          "author_id": conv.requester_id},
              "status": decision.status, "additional_tags": request_tags(prepared) or None}
    try:
        _, comment_id = written(ref, deps, "comment",          # E6: or an update_many job
                                comment_payload(decision.ticket_id, update, after),
                                lambda: deps.zendesk.update_ticket(decision.ticket_id, **update))
    except (RateLimited, Staged):
        # Held back by a budget or answered 429: nothing was written, so the retry need not
        # read the ticket's comments (under a backlog that read would double the calls).
        deps.store.ledger.clear_intent(ref)
        raise
    if comment_id is not None:
        deps.store.ledger.confirm_comment(ref, intent.to_json(), comment_id)
    return after


def _landed_before(ref: str, prepared: PreparedText, conv: Conversation, decision: AddComment,
                   deps: InboundDeps) -> bool:
    """Did an earlier attempt of this text already write its comment to this ticket?"""
    stored = deps.store.ledger.get_intent(ref)
    intent = intent_from_json(stored)
    if intent is None or stored is None or intent.ticket_id != decision.ticket_id:
        return False
    if isinstance(intent, CommentIntent) and intent.comment_id:
        return True
    # The first comment is the text that opened the ticket (the bridge made every SMS ticket),
    # never this text's comment: a repeat of it must not be taken for the lost write. Newest
    # first, page by page: the lost write is among the latest, however long the ticket (#14).
    for c, _older in pairwise(deps.zendesk.comments_newest_first(decision.ticket_id)):
        if c.author_id == conv.requester_id and c.body.strip() == prepared.body.strip() \
                and not deps.store.ledger.is_own_comment(c.id):
            deps.store.ledger.confirm_comment(ref, stored, c.id)
            return True
    return False
