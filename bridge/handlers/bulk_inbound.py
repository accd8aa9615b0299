"""The inbound handler's side of a bulk job's answer (E6, #11): run by the text's own task, in
its conversation's turn, before any single write (handlers/bulk_stage.py explains the flow).

- still staged or in a job: the conversation keeps waiting (`Staged`);
- `done`: a comment landed -> the conversation cache takes the ticket's new status and the
  text is applied; a ticket was made -> its intent holds the id and the creation's resume logic
  (inbound_writes.resume_create) finishes the text as after a crash; a requester was made or
  matched -> the conversation is recovered as `recover` does, and the text goes on to its ticket;
- `closed` / `gone`: the ticket refused the comment -> the cache says so and the text is decided
  again (S4: a follow-up ticket, sms_rules.decide_inbound), as a single write's 422/404 does;
- `handback` (the item was refused for another reason, or its job is unknown after a crash):
  the text is applied by single calls, whose resume logic checks Zendesk before writing again
  and whose errors take the normal path (retry, failed jobs).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bridge.domain.bulk import IN_FLIGHT
from bridge.domain.intents import PreparedText
from bridge.domain.model import Conversation
from bridge.handlers import inbound_writes as writes
from bridge.handlers.bulk_stage import RECHECK_SECONDS, Staged, requester_payload, written

if TYPE_CHECKING:
    from bridge.handlers.sms_inbound import InboundDeps

log = logging.getLogger("zkbridge.bulk")


def landed(ref: str, prepared: PreparedText, deps: InboundDeps) -> tuple[int, None] | None:
    """The text's bulk answer, taken: (ticket id, None) when its comment landed; None when the
    text goes on through `_apply` (raises `Staged` while its job is out)."""
    item = deps.store.bulk.item(ref)
    if item is None or item.get("state") == "single":
        return None
    state = item.get("state")
    if state in IN_FLIGHT:
        raise Staged(RECHECK_SECONDS, "its write waits for a bulk job")
    if state == "handback":
        deps.store.bulk.set_single(ref)
        return None
    _log_waits(ref, item, deps.clock())
    result: dict[str, Any] = item.get("result") or {}
    payload: dict[str, Any] = item.get("payload") or {}
    conv = deps.store.conversations.get_conversation(prepared.phone, prepared.brand)
    answer = None
    if item.get("kind") == "requester":
        _requester_made(prepared, result, payload, deps)
    elif item.get("kind") == "comment" and state == "done":
        answer = (int(payload["ticket_id"]), None)
        if conv is not None:
            deps.store.conversations.put_conversation(replace(
                conv, ticket_status=payload.get("status_after"), solved_at=None))  # S11
    elif item.get("kind") == "comment" and conv is not None:       # closed / gone
        deps.store.conversations.put_conversation(replace(
            conv, ticket_status="closed" if state == "closed" else "deleted"))
        deps.store.ledger.clear_intent(ref)
    deps.store.bulk.clear(ref)
    return answer


def _log_waits(ref: str, item: dict[str, Any], now: float) -> None:
    """Where a staged text's time went (E6): waiting to be packed, in its job until the
    drainer read the answer, and until its own task took it. One JSON line, no PII."""
    at, sent, answered = (item.get(k) for k in ("at", "sent_at", "answered_at"))
    if at is None or sent is None or answered is None:
        return
    ticket = (item.get("payload") or {}).get("ticket_id")
    log.info("bulk write answered", extra={"fields": {
        "event": ref, "kind": item.get("kind"), "state": item.get("state"), "ticket_id": ticket,
        "packed_after": round(sent - at, 3), "in_job": round(answered - sent, 3),
        "taken_after": round(now - answered, 3)}})


def _requester_made(prepared: PreparedText, result: dict[str, Any], payload: dict[str, Any],
                    deps: InboundDeps) -> None:
    """`recover` with the requester the job made or matched: a new one has no tickets; one
    that existed may have this conversation's (looked up by external_id, as recover does)."""
    requester_id = int(result["id"])
    created = bool(result.get("created"))
    if payload.get("email") or created:
        deps.store.ledger.remember_made_requester(requester_id, {
            "id": requester_id, "email": payload.get("email"), "phone": payload.get("phone")})
    conv = Conversation(phone=prepared.phone, brand_number=prepared.brand,
                        requester_id=requester_id)
    if not created:
        tickets = deps.zendesk.tickets_by_external_id(conv.external_id)
        if tickets:
            latest = max(tickets, key=lambda t: t.id)
            conv = replace(conv, ticket_id=latest.id, ticket_status=latest.status)
    deps.store.conversations.put_conversation(conv)


def recovered(ref: str, prepared: PreparedText, deps: InboundDeps) -> Conversation:
    """`inbound_writes.recover` (a new customer: the requester first), staged under a backlog
    as a create_or_update_many item."""
    return written(ref, deps, "requester", requester_payload(prepared),
                   lambda: writes.recover(prepared, deps))
