"""Answers Zendesk shapes beyond one object: the audit of a ticket creation, and a ticket's
comments paged as Zendesk pages them.

- `POST /api/v2/tickets` answers `{"ticket", "audit"}` as live Zendesk does (the spec's
  TicketResponse names only `ticket`; a real client such as zenpy reads the audit): the audit's
  events are the comment, then one `Create` event per field the ticket was created with.
- `GET /api/v2/tickets/{id}/comments` pages at 100 at most. Cursor pagination when a `page[...]`
  parameter is given (`page[size]`, `page[after]`, `page[before]`; `sort` = `created_at` or
  `-created_at`; answers `meta.has_more`, `meta.after_cursor`, `meta.before_cursor`,
  `links.next`, `links.prev`), offset pagination otherwise (`per_page`, `page`, `sort_order` =
  `asc` or `desc`; answers `next_page`, `previous_page`, `count`) [doc].
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

from sandbox.zendesk.model import Ticket, User, ZendeskError, iso

MAX_PAGE = 100
CREATED_FIELDS = ("subject", "status", "requester_id", "assignee_id", "group_id", "priority",
                  "type", "external_id", "brand_id")


def creation_audit(ticket: Ticket, actor: User, channel: str, new_id: Any) -> dict[str, Any]:
    """The audit of a new ticket: its first comment, then the fields it was created with."""
    c = ticket.comments[0]
    events: list[dict[str, Any]] = [{
        "id": c.id, "type": "Comment", "body": c.body, "html_body": c.html_body,
        "plain_body": c.body, "public": c.public, "author_id": c.author_id,
        "attachments": c.attachments, "audit_id": c.audit_id}]
    fields = [(name, getattr(ticket, name, None)) for name in CREATED_FIELDS]
    fields += [("tags", list(ticket.tags))] if ticket.tags else []
    events += [{"id": new_id("event"), "type": "Create", "field_name": name, "value": value}
               for name, value in fields if value not in (None, "", [])]
    return {"id": c.audit_id, "ticket_id": ticket.id, "created_at": iso(ticket.created_at),
            "author_id": actor.id, "metadata": {"system": {}, "custom": {}},
            "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
            "events": events}


def BadPage(description: str) -> ZendeskError:  # noqa: N802 - reads as the error it raises
    """A paging parameter Zendesk refuses."""
    return ZendeskError(400, {"error": "InvalidPaginationParameter",
                              "description": description})


def comments_page(comments: list[dict[str, Any]], args: dict[str, str],
                  url: str) -> dict[str, Any]:
    """One page of `comments` (oldest first as stored) for the request's parameters."""
    if any(k.startswith("page[") for k in args):
        return _cursor_page(comments, args, url)
    return _offset_page(comments, args, url)


def _cursor_page(comments: list[dict[str, Any]], args: dict[str, str],
                 url: str) -> dict[str, Any]:
    size = _number(args.get("page[size]"), MAX_PAGE)
    sort = args.get("sort", "created_at")
    if sort not in ("created_at", "-created_at"):
        raise BadPage(f"sort {sort!r} is not one of created_at, -created_at")
    ordered = list(reversed(comments)) if sort.startswith("-") else list(comments)
    if args.get("page[before]"):
        end = _position(args["page[before]"])
        start = max(0, end - size)
    else:
        start = _position(args["page[after]"]) if args.get("page[after]") else 0
        end = start + size
    chunk = ordered[start:end]
    has_more = end < len(ordered)
    after = _cursor(end) if chunk else None
    before = _cursor(start) if chunk else None
    base = {"page[size]": size, "sort": sort}
    return {"comments": chunk,
            "meta": {"has_more": has_more, "after_cursor": after, "before_cursor": before},
            "links": {"next": f"{url}?{urlencode({**base, 'page[after]': after})}"
                      if has_more else None,
                      "prev": f"{url}?{urlencode({**base, 'page[before]': before})}"
                      if start > 0 else None}}


def _offset_page(comments: list[dict[str, Any]], args: dict[str, str],
                 url: str) -> dict[str, Any]:
    per_page = _number(args.get("per_page"), MAX_PAGE)
    page = _number(args.get("page"), 1, maximum=None)
    order = args.get("sort_order", "asc")
    if order not in ("asc", "desc"):
        raise BadPage(f"sort_order {order!r} is not one of asc, desc")
    ordered = list(reversed(comments)) if order == "desc" else list(comments)
    start = (page - 1) * per_page
    more = start + per_page < len(ordered)

    def link(n: int) -> str:
        return f"{url}?{urlencode({'page': n, 'per_page': per_page, 'sort_order': order})}"
    return {"comments": ordered[start:start + per_page],
            "next_page": link(page + 1) if more else None,
            "previous_page": link(page - 1) if page > 1 else None, "count": len(ordered)}


def _number(raw: str | None, default: int, maximum: int | None = MAX_PAGE) -> int:
    if raw is None:
        return default
    try:
        n = int(raw)
    except ValueError as e:
        raise BadPage(f"{raw!r} is not a number") from e
    if n < 1:
        raise BadPage(f"{raw!r} must be at least 1")
    return min(n, maximum) if maximum else n


def _cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"c{position}".encode()).decode()


def _position(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        return int(text[1:]) if text.startswith("c") else int("x")
    except (ValueError, UnicodeDecodeError) as e:
        raise BadPage("invalid cursor") from e
