"""Reading Zendesk event-subscription payloads (API-NOTES: ids are strings, enums UPPER-CASE,
`tags` may be null). The one place that knows their shape.

`event.comment.attachments` is ASSUMED to list the comment's attachments when present.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bridge.domain.coerce import as_id, as_obj, as_text
from bridge.domain.model import parse_external_id
from bridge.domain.reply_rules import AgentComment
from bridge.domain.reply_text import comment_text

COMMENT_ADDED = "ticket.comment_added"
STATUS_CHANGED = "ticket.status_changed"
CREATED = "ticket.created"
TAGS_CHANGED = "ticket.tags_changed"   # A8/S10: releases held replies


def event_type(data: dict[str, Any]) -> str:
    """'zen:event-type:ticket.comment_added' -> 'ticket.comment_added'."""
    return str(data.get("type") or "").rsplit(":", 1)[-1]


def _comment(data: dict[str, Any]) -> dict[str, Any]:
    return as_obj(as_obj(data.get("event")).get("comment"))


def ticket_id(data: dict[str, Any]) -> int | None:
    return as_id(as_obj(data.get("detail")).get("id"))


def brand_id_of(data: dict[str, Any]) -> int | None:
    """The ticket's Zendesk brand (E7: which of the deployment's brands the event is for)."""
    return as_id(as_obj(data.get("detail")).get("brand_id"))


def conversation_of(data: dict[str, Any]) -> tuple[str, str] | None:
    """(phone, brand number) when the ticket is one of our SMS conversations."""
    return parse_external_id(as_text(as_obj(data.get("detail")).get("external_id")))


def agent_comment(data: dict[str, Any], *, with_text: bool = True) -> AgentComment | None:
    """The comment of a comment_added event, or None if it has no usable comment. Without
    `with_text` its body is not read (the receiver's screening needs only who wrote it and
    whether it is public, not the HTML parsed)."""
    detail = as_obj(data.get("detail"))
    comment = _comment(data)
    cid, tid = as_id(comment.get("id")), as_id(detail.get("id"))
    if cid is None or tid is None:
        return None
    author = as_obj(comment.get("author"))
    attachments = comment.get("attachments") or []
    body = as_text(comment.get("body")) if with_text else ""
    return AgentComment(
        ticket_id=tid, comment_id=cid, author_id=as_id(author.get("id")),
        author_is_staff=bool(author.get("is_staff")), public=bool(comment.get("is_public")),
        text=comment_text(body, as_text(comment.get("html_body"))) if with_text else "",
        body=body or "",
        attachment_count=len(attachments) if isinstance(attachments, list) else 0,
        requester_id=as_id(detail.get("requester_id")))


def ticket_tags(data: dict[str, Any]) -> frozenset[str] | None:
    """The ticket's tags after the event (`detail.tags`, on every ticket event [doc]; null
    allowed), lower-cased as Zendesk keeps them; None when the payload does not say."""
    tags = as_obj(data.get("detail")).get("tags")
    if not isinstance(tags, list):
        return None
    return frozenset(str(t).strip().lower() for t in tags if t)


def new_status(data: dict[str, Any]) -> str | None:
    current = as_obj(data.get("event")).get("current") or as_obj(data.get("detail")).get("status")
    return str(current).lower() if current else None


def event_time(data: dict[str, Any]) -> float | None:
    """When the change happened (the payload's `time`, e.g. 2026-11-25T10:12:07.672717030Z),
    as a Unix time; None when absent or unreadable."""
    value = as_text(data.get("time"))
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def reply_route(data: dict[str, Any]) -> tuple[str, float] | None:
    """Agent comments on SMS tickets wait in a per-ticket queue, in comment order (A6)."""
    if event_type(data) != COMMENT_ADDED or conversation_of(data) is None:
        return None
    tid = ticket_id(data)
    cid = as_id(_comment(data).get("id"))
    if tid is None or cid is None:
        return None
    return reply_queue(tid), float(cid)


def reply_queue(ticket: int) -> str:
    """The ordered queue of a ticket's agent comments (A6; a held reply heads it, A8/S10)."""
    return f"reply|{ticket}"
