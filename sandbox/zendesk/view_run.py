"""Running a view: `GET /api/v2/views/{id}/tickets`, the tickets its conditions match, with
cursor pagination (`page[size]` up to 100, `page[after]`) [doc: Views, Pagination].

The conditions the bridge's "SMS tickets" view uses are evaluated (status is / is_not /
less_than / greater_than, current_tags includes / not_includes); a view testing anything else
matches nothing here [simplified]. Tickets come in id order [simplified: Zendesk sorts by the
view's execution order]. The cursor is opaque to the client.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import request

from sandbox.zendesk.model import STATUSES, Ticket, User, ZendeskError, not_found

Answer = tuple[int, dict[str, Any] | None, dict[str, str]]
MAX_PAGE = 100


def _status_test(ticket: Ticket, operator: str, value: str) -> bool:
    rank, wanted = STATUSES.index(ticket.status), STATUSES.index(value)
    return {"is": rank == wanted, "is_not": rank != wanted, "less_than": rank < wanted,
            "greater_than": rank > wanted}.get(operator, False)


def _holds(ticket: Ticket, cond: dict[str, Any]) -> bool:
    field, operator, value = cond.get("field"), cond.get("operator"), cond.get("value")
    if field == "status" and value in STATUSES:
        return _status_test(ticket, str(operator), str(value))
    if field == "current_tags":
        tags = set(str(value or "").split())
        if operator == "includes":
            return bool(tags & set(ticket.tags))
        if operator == "not_includes":
            return not tags & set(ticket.tags)
    return False


def matches(ticket: Ticket, conditions: dict[str, Any]) -> bool:
    all_, any_ = conditions.get("all") or [], conditions.get("any") or []
    return all(_holds(ticket, c) for c in all_) and (not any_ or
                                                    any(_holds(ticket, c) for c in any_))


def _cursor(ticket_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{ticket_id}".encode()).decode()


def _after(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("after:"))
    except ValueError as e:
        raise ZendeskError(400, {"error": "InvalidPaginationParameter",
                                 "description": "page[after] is not a valid cursor"}) from e


def view_tickets(sb: Any, actor: User, obj_id: int) -> Answer:
    view = sb.zendesk.views.get(obj_id)
    if view is None:
        raise not_found()
    size = max(1, min(int(request.args.get("page[size]", MAX_PAGE) or MAX_PAGE), MAX_PAGE))
    after = _after(request.args.get("page[after]"))
    rest = [t for t in sorted(sb.zendesk.tickets.values(), key=lambda t: t.id)
            if t.id > after and matches(t, view["conditions"])]
    page, more = rest[:size], len(rest) > size
    last = _cursor(page[-1].id) if page else None
    base = f"{request.host_url}api/v2/views/{obj_id}/tickets.json?page%5Bsize%5D={size}"
    return 200, {"tickets": [t.as_json(request.host_url) for t in page],
                 "meta": {"has_more": more, "after_cursor": last if more else None,
                          "before_cursor": _cursor(page[0].id - 1) if page else None},
                 "links": {"next": f"{base}&page%5Bafter%5D={last}" if more else None,
                           "prev": None}}, {}


ROUTES = [("GET", "/api/v2/views/{id}/tickets", view_tickets)]
