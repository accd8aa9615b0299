"""Reading Zendesk event-subscription payloads (API-NOTES: ids are strings, enums UPPER-CASE,
`tags` may be null). The one place that knows their shape.

`event.comment.attachments` is ASSUMED to list the comment's attachments when present.
"""

from __future__ import annotations

from typing import Any

from bridge.model import parse_external_id
from bridge.reply_rules import AgentComment
from bridge.sms_text import comment_text

COMMENT_ADDED = "ticket.comment_added"
STATUS_CHANGED = "ticket.status_changed"
CREATED = "ticket.created"


def event_type(data: dict[str, Any]) -> str:
    """'zen:event-type:ticket.comment_added' -> 'ticket.comment_added'."""
    return str(data.get("type") or "").rsplit(":", 1)[-1]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def ticket_id(data: dict[str, Any]) -> int | None:
    return _int((data.get("detail") or {}).get("id"))


def conversation_of(data: dict[str, Any]) -> tuple[str, str] | None:
    """(phone, brand number) when the ticket is one of our SMS conversations."""
    return parse_external_id((data.get("detail") or {}).get("external_id"))


def agent_comment(data: dict[str, Any]) -> AgentComment | None:
    """The comment of a comment_added event, or None if it has no usable comment."""
    detail = data.get("detail") or {}
    comment = (data.get("event") or {}).get("comment") or {}
    cid, tid = _int(comment.get("id")), _int(detail.get("id"))
    if cid is None or tid is None:
        return None
    author = comment.get("author") or {}
    attachments = comment.get("attachments") or []
    return AgentComment(
        ticket_id=tid, comment_id=cid, author_id=_int(author.get("id")),
        author_is_staff=bool(author.get("is_staff")), public=bool(comment.get("is_public")),
        text=comment_text(comment.get("body"), comment.get("html_body")),
        body=str(comment.get("body") or ""),
        attachment_count=len(attachments) if isinstance(attachments, list) else 0,
        requester_id=_int(detail.get("requester_id")))


def new_status(data: dict[str, Any]) -> str | None:
    current = (data.get("event") or {}).get("current") or (data.get("detail") or {}).get("status")
    return str(current).lower() if current else None


def reply_route(data: dict[str, Any]) -> tuple[str, float] | None:
    """Agent comments on SMS tickets wait in a per-ticket queue, in comment order (A6)."""
    if event_type(data) != COMMENT_ADDED or conversation_of(data) is None:
        return None
    tid = ticket_id(data)
    cid = _int(((data.get("event") or {}).get("comment") or {}).get("id"))
    if tid is None or cid is None:
        return None
    return f"reply|{tid}", float(cid)
