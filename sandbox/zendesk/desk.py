"""`/_sandbox/zendesk/...`: what agents and Zendesk itself do outside the API.

The agent desk UI, tests and benchmarks use these routes to play the human side: an agent
replies, a customer files a web-form ticket, Zendesk auto-closes a solved ticket (silently, as
the real 28-day auto-close sends no status webhook we rely on). They change the same state as the
API and fire the same webhooks, but pass no gate and need no auth (loopback test surface). The
exceptions are bulk seeding (history: no webhooks) and the read-only lists of what the bridge
provisioned (webhooks with their secrets, views, automations).
"""

from __future__ import annotations

import mimetypes
import time
from typing import Any

from flask import Blueprint, jsonify, request

from sandbox import seed
from sandbox.zendesk import bulk, webhook_api
from sandbox.zendesk.desk_flags import desk_flags
from sandbox.zendesk.model import CUSTOM_FIELDS, Ticket, User, ZendeskError, parse_id
from sandbox.zendesk.webhooks import publish

PREFIX = "/_sandbox/zendesk"
DEFAULT_AGENT_ID = seed.AGENTS[0].id


def _bad(message: str) -> Any:
    return jsonify({"error": "bad_request", "description": message}), 400


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None and not request.get_data():
        return {}
    if not isinstance(data, dict):
        raise ZendeskError(400, {"error": "bad_request",
                                 "description": "body must be a JSON object"})
    return data


def _id(value: Any) -> int:
    return parse_id(value, "bad_request")


def ticket_with_comments(ticket: Ticket, base: str) -> dict[str, Any]:
    """The ticket, its comments and its custom fields that hold a value, by title (the desk
    shows them as an agent's sidebar would, e.g. the bridge's "SMS context", A9), and what the
    desk flags on it (an opt-out request, a held reply: desk_flags.py, S10/A8), judged on the
    bridge's clock (real time, not the admin-shifted Zendesk clock)."""
    shown = [{"title": f.title, "value": ticket.custom_fields[f.id]} for f in CUSTOM_FIELDS
             if ticket.custom_fields.get(f.id) not in (None, "", False)]
    return {**ticket.as_json(base), "comments": [c.as_json() for c in ticket.comments],
            "fields_shown": shown, "desk_flags": desk_flags(ticket, time.time())}


def _attachments(sb: Any, items: Any) -> list[dict[str, Any]]:
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(a, dict) and a.get("content_url")
                                              for a in items):
        raise ZendeskError(400, {"error": "bad_request",
                                 "description": "attachments: list of {file_name, content_url}"})
    out = []
    for a in items:
        name = str(a.get("file_name") or a["content_url"].rsplit("/", 1)[-1] or "file")
        out.append({"id": sb.zendesk.new_id("event"), "file_name": name,
                    "content_url": a["content_url"], "mapped_content_url": a["content_url"],
                    "url": a["content_url"],
                    "content_type": a.get("content_type") or mimetypes.guess_type(name)[0]
                    or "application/octet-stream",
                    "size": int(a.get("size") or 0), "inline": False, "deleted": False,
                    "thumbnails": []})
    return out


def _desk_ticket_request(state: Any, d: dict[str, Any]) -> tuple[dict[str, Any], User]:
    """A desk ticket as the API request `ZendeskState.create_ticket` takes, and its author: the
    agent named by `author_id`, else the requester. A requester known only by an email nobody
    has is a new customer filing the web form: created first, so the ticket is theirs."""
    data: dict[str, Any] = {k: d[k] for k in ("subject", "assignee_id", "group_id", "tags",
                                              "status", "external_id", "brand_id",
                                              "priority", "type", "custom_fields")
                            if k in d}
    if d.get("requester_id"):
        data["requester_id"] = d["requester_id"]
    else:
        data["requester"] = {"email": d["requester_email"], "name": d.get("requester_name")}
    requester = state.user(_id(d["requester_id"])) if d.get("requester_id") else \
        state.user_by_email(str(d["requester_email"]))
    author = state.user(_id(d["author_id"])) if d.get("author_id") else requester
    if author is None:
        author = state.new_user(str(d.get("requester_name")
                                    or str(d["requester_email"]).split("@")[0]),
                                str(d["requester_email"]))
        data.pop("requester")
        data["requester_id"] = author.id
    data["comment"] = {"body": d["body"], "html_body": d.get("html_body"),
                       "public": d.get("public", True), "author_id": author.id}
    return data, author


def _desk_comment_request(d: dict[str, Any], author: User) -> dict[str, Any]:
    """A desk comment as the update request `ZendeskState.update_ticket` takes; `status`, when
    given, is submitted with it as an agent's "Submit as" does."""
    data: dict[str, Any] = {"comment": {"body": d.get("body"), "html_body": d.get("html_body"),
                                        "public": d.get("public", True),
                                        "author_id": author.id}}
    if d.get("status"):
        data["status"] = d["status"]
    return data


def register(bp: Blueprint, sb: Any) -> None:
    """Add the desk/admin routes (docs/sandbox-admin.md, Zendesk section) to `bp`."""
    state = sb.zendesk

    @bp.errorhandler(ZendeskError)
    def zendesk_error(e: ZendeskError) -> Any:
        return jsonify(e.body), e.status

    @bp.get(f"{PREFIX}/tickets")
    def desk_tickets() -> Any:
        """Every ticket, or only those with `?external_id=` (a test's or benchmark's poll for
        one customer's tickets: thousands of tickets serialised per poll under the lock slowed
        every API call the bridge made meanwhile)."""
        ext = request.args.get("external_id")
        with sb.lock:
            return jsonify({"tickets": [ticket_with_comments(t, request.host_url)
                                        for t in state.tickets.values()
                                        if ext is None or t.external_id == ext]})

    @bp.get(f"{PREFIX}/tickets/<int:ticket_id>")
    def desk_ticket(ticket_id: int) -> Any:
        with sb.lock:
            return jsonify({"ticket": ticket_with_comments(state.ticket(ticket_id),
                                                           request.host_url)})

    @bp.get(f"{PREFIX}/users")
    def desk_users() -> Any:
        with sb.lock:
            return jsonify({"users": [u.as_json(request.host_url)
                                      for u in state.users.values()]})

    @bp.post(f"{PREFIX}/tickets")
    def desk_create_ticket() -> Any:
        """A web-form ticket (author = requester) or an agent's ticket (`author_id`)."""
        d = _body()
        if not d.get("body"):
            return _bad("body is required")
        if not (d.get("requester_id") or d.get("requester_email")):
            return _bad("requester_id or requester_email is required")
        with sb.lock:
            data, author = _desk_ticket_request(state, d)
            ticket, events = state.create_ticket(data, author, str(d.get("channel") or "web"))
            publish(sb, events)
            return jsonify({"ticket": ticket_with_comments(ticket, request.host_url)}), 201

    @bp.post(f"{PREFIX}/tickets/bulk")
    def desk_bulk() -> Any:
        """Many past tickets at once, without webhooks (benchmarks, backfill tests)."""
        with sb.lock:
            try:
                spec = bulk.parse_spec(_body(), state.now())
            except ValueError as e:
                return _bad(str(e))
            return jsonify(bulk.bulk_create(state, spec)), 201

    @bp.get(f"{PREFIX}/webhooks")
    def desk_webhooks() -> Any:
        """Webhooks made through the API, with their secrets and credentials."""
        with sb.lock:
            return jsonify({"webhooks": [webhook_api.admin_json(h)
                                         for h in state.webhooks.values()]})

    @bp.get(f"{PREFIX}/views")
    def desk_views() -> Any:
        with sb.lock:
            return jsonify({"views": list(state.views.values())})

    @bp.get(f"{PREFIX}/automations")
    def desk_automations() -> Any:
        with sb.lock:
            return jsonify({"automations": list(state.automations.values())})

    @bp.post(f"{PREFIX}/tickets/<int:ticket_id>/comments")
    def desk_comment(ticket_id: int) -> Any:
        """An agent's (or customer's) comment from the desk; optional `status` to submit as."""
        d = _body()
        if not (d.get("body") or d.get("html_body")):
            return _bad("body or html_body is required")
        with sb.lock:
            author = state.user(_id(d.get("author_id") or DEFAULT_AGENT_ID))
            data = _desk_comment_request(d, author)
            if (author.is_staff and data["comment"]["public"] and "status" not in data
                    and state.ticket(ticket_id).status == "new"):
                data["status"] = "open"   # as Zendesk: an agent's public reply opens a new ticket
            ticket, audit, events = state.update_ticket(
                ticket_id, data, author, "web", attachments=_attachments(sb, d.get("attachments")))
            publish(sb, events)
            return jsonify({"ticket": ticket_with_comments(ticket, request.host_url),
                            "audit": audit, "comment": ticket.comments[-1].as_json()}), 201

    @bp.post(f"{PREFIX}/tickets/<int:ticket_id>/tags")
    def desk_tags(ticket_id: int) -> Any:
        """An agent adds and removes tags in the desk (fires `ticket.tags_changed` when the
        tags change, as the API's `additional_tags` / `remove_tags` do)."""
        d = _body()
        add, remove = d.get("add") or [], d.get("remove") or []
        if not isinstance(add, list) or not isinstance(remove, list) or not (add or remove):
            return _bad("add and/or remove (lists of tags) are required")
        with sb.lock:
            actor = state.user(_id(d.get("actor_id") or DEFAULT_AGENT_ID))
            ticket, _, events = state.update_ticket(
                ticket_id, {"additional_tags": add, "remove_tags": remove}, actor, "web")
            publish(sb, events)
            return jsonify({"ticket": ticket_with_comments(ticket, request.host_url)})

    @bp.post(f"{PREFIX}/tickets/<int:ticket_id>/status")
    def desk_status(ticket_id: int) -> Any:
        """`silent: true` is Zendesk's own auto-close: state changes, no webhook."""
        d = _body()
        if not d.get("status"):
            return _bad("status is required")
        with sb.lock:
            actor = state.user(_id(d.get("actor_id") or DEFAULT_AGENT_ID))
            events = state.set_status(ticket_id, str(d["status"]), actor)
            if not d.get("silent"):
                publish(sb, events)
            return jsonify({"ticket": ticket_with_comments(state.ticket(ticket_id),
                                                           request.host_url)})

    @bp.post(f"{PREFIX}/comment_cap")
    def desk_comment_cap() -> Any:
        """Lower the comments a ticket may hold (5000 in production) so a test can make a
        ticket refuse every further comment (422) without writing thousands of them."""
        cap = _body().get("comment_cap")
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            return _bad("comment_cap (whole number >= 1) is required")
        with sb.lock:
            state.comment_cap = cap
        return jsonify({"comment_cap": state.comment_cap})

    @bp.route(f"{PREFIX}/clock", methods=["GET", "POST"])
    def desk_clock() -> Any:
        """Shift Zendesk's "now" (timestamps, the export's last-minute cut-off, key expiry)."""
        if request.method == "POST":
            d = _body()
            try:
                offset = float(d["offset_seconds"])
            except (KeyError, TypeError, ValueError):
                return _bad("offset_seconds (number) is required")
            with sb.lock:
                state.clock_offset = offset
        return jsonify({"offset_seconds": state.clock_offset, "now": state.now()})
