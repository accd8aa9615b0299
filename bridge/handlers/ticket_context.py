"""A9: the context a new SMS ticket carries for its agent, in its creation call (no Zendesk
call of its own): tags, and the text of the `ZENDESK_CONTEXT_FIELD_ID` custom field.

The Klaviyo read behind it (the customer's last campaign/flow SMS) is one `GET events` per
customer an hour at most (cached in Redis, budgeted by the funnel like every read). It never
holds a text back: if Klaviyo fails, is slow to answer or its budget is spent, the ticket is
made without context and the miss is counted (`ticket_context` / `unavailable`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bridge.domain.context import LastSms, TicketContext, context_tags, context_text
from bridge.domain.intents import PreparedText
from bridge.errors import UpstreamError

if TYPE_CHECKING:
    from bridge.handlers.sms_inbound import InboundDeps

log = logging.getLogger("zkbridge.context")


def creation_fields(prepared: PreparedText, deps: InboundDeps) -> dict[str, Any]:
    """`tags` and `custom_fields` to add to a new ticket's body ({} when context is off)."""
    if not deps.ticket_context or prepared.profile_id is None:
        return {}
    context = _context(prepared.profile_id, deps)
    fields: dict[str, Any] = {}
    tags = context_tags(context, prepared.consent)
    if tags:
        fields["tags"] = tags
    text = context_text(context, prepared.consent)
    if text is not None and deps.context_field_id:
        fields["custom_fields"] = [{"id": deps.context_field_id, "value": text}]
    return fields


def _context(profile_id: str, deps: InboundDeps) -> TicketContext:
    cached = deps.store.conversations.cached_context(profile_id)
    if cached is not None:
        last = cached.get("last_sms")
        return TicketContext(LastSms.from_json(last) if last else None)
    try:
        found = deps.klaviyo.last_marketing_sms(profile_id)
    except UpstreamError as e:
        log.warning("ticket made without context: Klaviyo's events read failed (%s)",
                    type(e).__name__)
        deps.store.outcomes.count("ticket_context", "unavailable", type(e).__name__.lower())
        return TicketContext(None, known=False)
    deps.store.conversations.cache_context(
        profile_id, {"last_sms": found.to_json() if found else None})
    return TicketContext(found)
