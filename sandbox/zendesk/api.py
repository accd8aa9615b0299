"""The Zendesk stand-in's HTTP face: `/api/v2/...` as the bridge calls it.

Each route goes through the same funnel: `sb.gate` (count, injected faults, rate limits), then
authentication, then one handler that changes `ZendeskState` under `sb.lock` and publishes the
resulting webhooks. Zendesk's rules live in `state.py`, its webhooks in
`webhooks.py`, the Webhooks API in `webhook_api.py`, views and automations in
`rules.py`, and the desk/admin routes under `/_sandbox/zendesk` in `desk.py`.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, jsonify, request

from sandbox import seed
from sandbox.common import RateLimiter, Window
from sandbox.zendesk import desk, jobs, oauth, pages, rules, webhook_api
from sandbox.zendesk.model import (
    CUSTOM_FIELDS,
    SYSTEM_FIELDS,
    Ticket,
    User,
    ZendeskError,
    not_found,
)
from sandbox.zendesk.state import ZendeskState
from sandbox.zendesk.webhooks import publish

__all__ = ["ZendeskState", "install_default_limits", "make_blueprint"]

Answer = tuple[int, dict[str, Any] | None, dict[str, str]]   # body None: 204, no content
Handler = Callable[..., Answer]

UNAUTHORIZED = {"error": "Couldn't authenticate you"}


def install_default_limits(limiter: RateLimiter, production: bool) -> None:
    """Team plan: 200/min account-wide, Update Ticket 100/min, incremental exports 10/min [doc]."""
    scale = 1 if production else 100
    limiter.set_limits("zendesk", [Window(200 * scale, 60)])
    limiter.set_limits("zendesk:update_ticket", [Window(100 * scale, 60)])
    limiter.set_limits("zendesk:incremental", [Window(10 * scale, 60)])
    limiter.set_limits(jobs.PER_TICKET, [Window(30 * scale, 600)])   # updates per ticket


def _authenticate(sb: Any) -> User | None:
    """Basic `{email}/token:{api_token}`, or `Bearer <token>`: the static OAuth token or one
    issued by `/oauth/tokens` and not yet expired (oauth.py) [doc]."""
    auth, cfg = request.authorization, sb.config
    if auth is None:
        return None
    if auth.type == "basic":
        ok = hmac.compare_digest(auth.username or "", f"{cfg.zendesk_email}/token") and \
            hmac.compare_digest(auth.password or "", cfg.zendesk_api_token)
    elif auth.type == "bearer":
        static = bool(cfg.zendesk_oauth_token) and \
            hmac.compare_digest(auth.token or "", cfg.zendesk_oauth_token)
        ok = static or sb.zendesk_oauth.valid(auth.token or "")
    else:
        ok = False
    return sb.zendesk.api_user() if ok else None


def _fault(sb: Any, gate: Any) -> Answer:
    """Render what `sb.gate` decided in Zendesk's shapes."""
    if gate.kind == "429":
        headers = {"Retry-After": str(max(1, math.ceil(gate.retry_after or 1)))}
        if gate.limit:
            headers |= {"X-Rate-Limit": str(gate.limit), "X-Rate-Limit-Remaining": "0"}
        return 429, {"error": "APIRateLimitExceeded",
                     "description": "Number of allowed API requests per minute exceeded"}, headers
    if gate.kind == "409":
        return 409, {"error": "DatabaseConflict",
                     "description": "The request could not be completed because of a "
                                    "database conflict. Please retry."}, {}
    if gate.kind == "timeout":
        return 504, {"error": "GatewayTimeout", "description": "Request timed out"}, {}
    if sb.faults.rng.random() < 0.5:
        return 500, {"error": "InternalServerError",
                     "description": "Something went wrong"}, {}
    return 503, {"error": "ServiceUnavailable",
                 "description": "Service temporarily unavailable"}, {}


def _api(bp: Blueprint, sb: Any, method: str, template: str, buckets: list[str],
         handler: Handler, string_id: bool = False) -> None:
    """Serve `template` through gate → auth → handler. Ticketing paths also answer with a
    `.json` suffix; the Webhooks API (`string_id`: ULID-like ids) does not [seen]."""
    key = f"{method} {template}"

    def view(**kwargs: Any) -> Any:
        gate = sb.gate("zendesk", key, buckets)
        if gate.kind is not None:
            status, body, headers = _fault(sb, gate)
        else:
            with sb.lock:
                actor = _authenticate(sb)
                try:
                    if actor:
                        status, body, headers = handler(sb, actor, **kwargs)
                    elif handler is show_me and request.authorization is None:
                        status, body, headers = show_anonymous_me()
                    else:
                        status, body, headers = 401, UNAUTHORIZED, {
                            "WWW-Authenticate": 'Basic realm="Web Password"'}
                except ZendeskError as e:
                    status, body, headers = e.status, e.body, dict(e.headers)
            if gate.bucket is not None:
                headers = {**headers, "X-Rate-Limit": str(gate.limit),
                           "X-Rate-Limit-Remaining": str(max(gate.remaining, 0))}
            if sb.late_timeout(gate):
                status, body, headers = _fault(sb, replace(gate, kind="timeout"))
        return (jsonify(body) if body is not None else ""), status, headers

    rule = template.replace("{id}", "<obj_id>" if string_id else "<int:obj_id>")
    endpoint = f"{method.lower()}_{template}".replace("/", "_").replace("{id}", "id")
    bp.add_url_rule(rule, endpoint, view, methods=[method])
    if not string_id:
        bp.add_url_rule(rule + ".json", endpoint + "_json", view, methods=[method])


def _payload(root: str) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get(root), dict):
        raise ZendeskError(400, {"error": "InvalidParameter",
                                 "description": f"expected a JSON object with '{root}'"})
    return data


def _int_arg(name: str, default: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ZendeskError(400, {"error": "InvalidValue",
                                 "description": f"{name} must be an integer"}) from None


# --- handlers (called under sb.lock) ------------------------------------------------------
def create_ticket(sb: Any, actor: User) -> Answer:
    """Idempotency-Key: miss → create and remember; hit → replay; other body → 400 [doc]."""
    data, state = _payload("ticket"), sb.zendesk
    key = request.headers.get("Idempotency-Key")
    if key:
        replay = state.idempotent_replay(key, data)
        if replay is not None:
            status, body, headers = replay
            return status, body, {**headers, "x-idempotency-lookup": "hit"}
    ticket, events = state.create_ticket(data["ticket"], actor, "api")
    audit = pages.creation_audit(ticket, actor, "api", state.new_id)
    answer: Answer = (201, {"ticket": ticket.as_json(request.host_url), "audit": audit},
                      {"Location": f"{request.host_url}api/v2/tickets/{ticket.id}.json"})
    if key:
        state.remember(key, data, answer)
        answer = (answer[0], answer[1], {**answer[2], "x-idempotency-lookup": "miss"})
    publish(sb, events)
    return answer


def update_ticket(sb: Any, actor: User, obj_id: int) -> Answer:
    data = _payload("ticket")
    jobs.ticket_update_allowed(sb, obj_id)
    ticket, audit, events = sb.zendesk.update_ticket(obj_id, data["ticket"], actor, "api")
    publish(sb, events)
    return 200, {"ticket": ticket.as_json(request.host_url), "audit": audit}, {}


def _include() -> set[str]:
    return {s.strip() for s in request.args.get("include", "").split(",") if s.strip()}


def _sideloads(state: ZendeskState, tickets: list[Ticket], base: str) -> dict[str, Any]:
    """`include=users,groups` [doc]: each ticket's requester, submitter and assignee, and its
    group, once each in first-seen order. Other sideloads are ignored [assumed]."""
    include = _include()
    out: dict[str, Any] = {}
    if "users" in include:
        ids = dict.fromkeys(i for t in tickets for i in (t.requester_id, t.submitter_id,
                                                          t.assignee_id) if i in state.users)
        out["users"] = [state.users[i].as_json(base) for i in ids]
    if "groups" in include:
        gids = dict.fromkeys(t.group_id for t in tickets if t.group_id in state.groups)
        out["groups"] = [_group_json(g, state.groups[g], base) for g in gids if g is not None]
    return out


def show_ticket(sb: Any, actor: User, obj_id: int) -> Answer:
    """`?include=users,groups` sideloads the ticket's users and group [doc]."""
    ticket = sb.zendesk.ticket(obj_id)
    return 200, {"ticket": ticket.as_json(request.host_url),
                 **_sideloads(sb.zendesk, [ticket], request.host_url)}, {}


def show_many_tickets(sb: Any, actor: User) -> Answer:
    """Up to 100 tickets by id, unknown ids left out; `include=users,groups` sideloads as on
    show [doc]."""
    try:
        ids = [int(i) for i in (request.args.get("ids") or "").split(",") if i][:jobs.MAX_ITEMS]
    except ValueError as e:
        raise ZendeskError(400, {"error": "InvalidParameter",
                                 "description": "ids must be numbers"}) from e
    tickets = [sb.zendesk.tickets[i] for i in ids if i in sb.zendesk.tickets]
    return 200, {"tickets": [t.as_json(request.host_url) for t in tickets],
                 **_sideloads(sb.zendesk, tickets, request.host_url),
                 "next_page": None, "previous_page": None, "count": len(tickets)}, {}


def list_tickets(sb: Any, actor: User) -> Answer:
    external_id = request.args.get("external_id")
    tickets = [t for t in sb.zendesk.tickets.values()
               if external_id is None or t.external_id == external_id]
    return 200, {"tickets": [t.as_json(request.host_url) for t in tickets],
                 "next_page": None, "previous_page": None, "count": len(tickets)}, {}


def list_comments(sb: Any, actor: User, obj_id: int) -> Answer:
    """At most 100 a page, cursor or offset pagination, either order (sandbox/zendesk/pages.py)."""
    comments = [c.as_json() for c in sb.zendesk.ticket(obj_id).comments]
    url = f"{request.host_url}api/v2/tickets/{obj_id}/comments.json"
    return 200, pages.comments_page(comments, dict(request.args), url), {}


def create_or_update_user(sb: Any, actor: User) -> Answer:
    user, created = sb.zendesk.create_or_update_user(_payload("user")["user"])
    return (201 if created else 200), {"user": user.as_json(request.host_url)}, {
        "Location": f"{request.host_url}api/v2/users/{user.id}.json"}


def show_user(sb: Any, actor: User, obj_id: int) -> Answer:
    return 200, {"user": sb.zendesk.user(obj_id).as_json(request.host_url)}, {}


def show_me(sb: Any, actor: User) -> Answer:
    return 200, {"user": {**actor.as_json(request.host_url),
                          "authenticity_token": "sandbox-csrf-token"}}, {}


def show_anonymous_me() -> Answer:
    """users/me without credentials: 200 and an anonymous user with a null id [doc+seen], which
    is why a credential check must look at the id, not the status."""
    return 200, {"user": {"id": None, "url": None, "name": "Anonymous user",
                          "email": "invalid@example.com", "role": "end-user",
                          "locale": "en-US", "time_zone": "UTC", "active": True,
                          "verified": False, "authenticity_token": "sandbox-csrf-token"}}, {}


def _group_json(group_id: int, name: str, base: str) -> dict[str, Any]:
    return {"id": group_id, "url": f"{base}api/v2/groups/{group_id}.json", "name": name,
            "description": "", "default": group_id == seed.GROUPS[0][0], "deleted": False,
            "is_public": True, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z"}


def show_group(sb: Any, actor: User, obj_id: int) -> Answer:
    if obj_id not in sb.zendesk.groups:
        raise not_found()
    return 200, {"group": _group_json(obj_id, sb.zendesk.groups[obj_id], request.host_url)}, {}


def incremental_tickets(sb: Any, actor: User) -> Answer:
    """Cursor-based incremental export; the last minute is never returned [doc]. `per_page`
    counts tickets only; sideloads cover the page's tickets. `after_url` keeps `per_page` and
    `include` so following it pages the same way [assumed]."""
    cursor, start_time = request.args.get("cursor"), _int_arg("start_time")
    per_page = min(max(_int_arg("per_page", 1000) or 1000, 1), 1000)
    if cursor is None and start_time is None:
        raise ZendeskError(400, {"error": "InvalidPaginationParameter",
                                 "description": "start_time or cursor is required"})
    page, after, end = sb.zendesk.export(start_time, cursor, per_page)
    query = {"cursor": after}
    if "per_page" in request.args:
        query["per_page"] = str(per_page)
    if "include" in request.args:
        query["include"] = request.args["include"]
    after_url = f"{request.host_url}api/v2/incremental/tickets/cursor.json?{urlencode(query)}"
    return 200, {"tickets": [t.as_json(request.host_url) for t in page],
                 **_sideloads(sb.zendesk, page, request.host_url),
                 "after_cursor": after, "before_cursor": None, "after_url": after_url,
                 "before_url": None, "end_of_stream": end}, {}


def list_ticket_fields(sb: Any, actor: User) -> Answer:
    fields = [f.as_json(request.host_url) for f in SYSTEM_FIELDS + CUSTOM_FIELDS]
    return 200, {"ticket_fields": fields, "next_page": None, "previous_page": None,
                 "count": len(fields)}, {}


def show_ticket_field(sb: Any, actor: User, obj_id: int) -> Answer:
    found = next((f for f in SYSTEM_FIELDS + CUSTOM_FIELDS if f.id == obj_id), None)
    if found is None:
        raise not_found()
    return 200, {"ticket_field": found.as_json(request.host_url)}, {}


def make_blueprint(sb: Any) -> Blueprint:
    """The API routes above plus the desk/admin routes of `desk`."""
    bp = Blueprint("zendesk", __name__)
    z = ["zendesk"]
    routes: list[tuple[str, str, list[str], Handler]] = [
        ("POST", "/api/v2/tickets", z, create_ticket),
        ("GET", "/api/v2/tickets", z, list_tickets),
        ("GET", "/api/v2/tickets/show_many", z, show_many_tickets),
        ("GET", "/api/v2/tickets/{id}", z, show_ticket),
        ("PUT", "/api/v2/tickets/{id}", z + ["zendesk:update_ticket"], update_ticket),
        ("GET", "/api/v2/tickets/{id}/comments", z, list_comments),
        ("POST", "/api/v2/users/create_or_update", z, create_or_update_user),
        ("GET", "/api/v2/users/me", z, show_me),
        ("GET", "/api/v2/users/{id}", z, show_user),
        ("GET", "/api/v2/groups/{id}", z, show_group),
        ("GET", "/api/v2/incremental/tickets/cursor", z + ["zendesk:incremental"],
         incremental_tickets),
        ("GET", "/api/v2/ticket_fields", z, list_ticket_fields),
        ("GET", "/api/v2/ticket_fields/{id}", z, show_ticket_field),
    ] + [(method, template, z, handler) for method, template, handler in rules.ROUTES] \
      + [(method, template, z, handler) for method, template, handler in jobs.TICKET_ROUTES]
    for method, template, buckets, handler in routes:
        _api(bp, sb, method, template, buckets, handler)
    for method, template, handler in webhook_api.ROUTES + jobs.JOB_ROUTES:
        _api(bp, sb, method, template, z, handler, string_id=True)

    @bp.route("/api/v2/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def unknown_endpoint(rest: str) -> Any:
        return jsonify({"error": "InvalidEndpoint", "description": "Not found"}), 404

    desk.register(bp, sb)
    oauth.register(bp, sb, sb.zendesk_oauth)
    return bp
