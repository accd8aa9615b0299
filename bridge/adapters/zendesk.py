"""Zendesk Ticketing API client: the few calls the bridge makes, with domain-named methods.

Facts it relies on are in API-NOTES.md: Idempotency-Key on ticket creation only; comments are
added with PUT; a closed ticket answers 422 with "closed prevents ticket update";
create_or_update matches users by email or external_id (never phone).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests
from requests.auth import AuthBase

from bridge.adapters.http import Funnel, Gate, Observer
from bridge.domain.model import Comment, Ticket
from bridge.errors import Permanent, TicketClosed, TicketGone

CLOSED_PHRASE = "closed prevents ticket update"


class ZendeskClient:
    def __init__(self, base_url: str, *, email: str | None = None, api_token: str | None = None,
                 oauth_token: str | None = None, auth: AuthBase | None = None,
                 timeout: float = 10.0, session: requests.Session | None = None,
                 observe: Observer | None = None, gate: Gate | None = None) -> None:
        """Credentials, first found wins: `auth` (an OAuth client, zendesk_auth.py), a static
        OAuth bearer, an API token (basic auth; Zendesk ends these on 2027-04-30)."""
        self.session = session or requests.Session()
        if auth is not None:
            self.session.auth = auth
        elif oauth_token:
            self.session.headers["Authorization"] = f"Bearer {oauth_token}"
        else:
            self.session.auth = (f"{email}/token", api_token or "")
        self.session.headers.setdefault("Accept", "application/json")
        self.http = Funnel("zendesk", base_url.rstrip("/"), self.session, timeout, observe, gate)

    def me(self) -> dict[str, Any]:
        return self.http.request("GET", "/api/v2/users/me", "GET users/me").json()["user"]

    def create_or_update_user(self, *, name: str, email: str | None, external_id: str | None,
                              phone: str | None) -> tuple[int, bool]:
        """Returns (user id, created). Matched by email if given, else by external_id."""
        user: dict[str, Any] = {"name": name}
        if email:
            user["email"] = email
        else:
            user["external_id"] = external_id
        if phone:
            user["phone"] = phone
        resp = self.http.request("POST", "/api/v2/users/create_or_update",
                                 "POST users/create_or_update", json={"user": user})
        return int(resp.json()["user"]["id"]), resp.status_code == 201

    def create_ticket(self, ticket: dict[str, Any], idempotency_key: str) -> Ticket:
        resp = self.http.request("POST", "/api/v2/tickets", "POST tickets",
                                 json={"ticket": ticket},
                                 headers={"Idempotency-Key": idempotency_key})
        doc = resp.json()["ticket"]
        return Ticket(int(doc["id"]), str(doc.get("status") or "new").lower(),
                      doc.get("external_id"), doc=doc)

    def group(self, group_id: int) -> dict[str, Any]:
        return self.http.request("GET", f"/api/v2/groups/{group_id}",
                                 "GET groups/{id}").json()["group"]

    def update_ticket(self, ticket_id: int, *, comment: dict[str, Any] | None = None,
                      status: str | None = None,
                      additional_tags: list[str] | None = None) -> tuple[Ticket, int | None]:
        """Comment, status and added tags in one PUT (`additional_tags` adds to the ticket's
        tags; `tags` would replace them). Returns the ticket and the new comment's id."""
        body: dict[str, Any] = {}
        if comment is not None:
            body["comment"] = comment
        if status is not None:
            body["status"] = status
        if additional_tags:
            body["additional_tags"] = additional_tags
        try:
            resp = self.http.request("PUT", f"/api/v2/tickets/{ticket_id}", "PUT tickets/{id}",
                                     json={"ticket": body})
        except Permanent as e:
            if e.status == 422 and CLOSED_PHRASE in str(e.body).lower():
                raise TicketClosed("zendesk", f"ticket {ticket_id} is closed", 422) from e
            if e.status == 404:
                raise TicketGone("zendesk", f"ticket {ticket_id} not found", 404) from e
            raise
        doc = resp.json()
        comment_id = None
        for event in (doc.get("audit") or {}).get("events") or []:
            if event.get("type") == "Comment":
                comment_id = int(event["id"])
        return _ticket(doc["ticket"]), comment_id

    def add_note(self, ticket_id: int, body: str) -> int | None:
        """An internal note by the API user; the status is left as it is. Returns its id."""
        _, comment_id = self.update_ticket(ticket_id, comment={"body": body, "public": False})
        return comment_id

    def user(self, user_id: int) -> dict[str, Any]:
        resp = self.http.request("GET", f"/api/v2/users/{user_id}", "GET users/{id}")
        return resp.json()["user"]

    def ticket_with_people(self, ticket_id: int) -> tuple[dict[str, Any], dict[int, dict],
                                                          dict[int, dict]]:
        """GET tickets/{id}?include=users,groups: the ticket, its users and groups by id."""
        try:
            resp = self.http.request("GET", f"/api/v2/tickets/{ticket_id}", "GET tickets/{id}",
                                     params={"include": "users,groups"})
        except Permanent as e:
            if e.status == 404:
                raise TicketGone("zendesk", f"ticket {ticket_id} not found", 404) from e
            raise
        doc = resp.json()
        return (doc["ticket"], {int(u["id"]): u for u in doc.get("users") or []},
                {int(g["id"]): g for g in doc.get("groups") or []})

    def tickets_with_people(self, ticket_ids: list[int]) -> dict[int, tuple[
            dict[str, Any], dict[int, dict], dict[int, dict]]]:
        """GET tickets/show_many?include=users,groups (up to 100 ids): each ticket found with
        its own requester, submitter, assignee and group, as ticket_with_people gives them.
        A deleted ticket is left out [doc]."""
        resp = self.http.request("GET", "/api/v2/tickets/show_many", "GET tickets/show_many",
                                 params={"ids": ",".join(str(i) for i in ticket_ids),
                                         "include": "users,groups"})
        doc = resp.json()
        users = {int(u["id"]): u for u in doc.get("users") or []}
        groups = {int(g["id"]): g for g in doc.get("groups") or []}
        found = {}
        for t in doc.get("tickets") or []:
            mine = (t.get("requester_id"), t.get("submitter_id"), t.get("assignee_id"))
            group = t.get("group_id")
            found[int(t["id"])] = (t, {int(i): users[int(i)] for i in mine
                                       if i is not None and int(i) in users},
                                   {int(group): groups[int(group)]}
                                   if group is not None and int(group) in groups else {})
        return found

    def export_page(self, *, start_time: int | None = None, cursor: str | None = None,
                    include: str | None = None, per_page: int = 1000) -> dict[str, Any]:
        """One page of the cursor-based incremental ticket export (10 requests/minute)."""
        params: dict[str, Any] = {"per_page": per_page}
        if cursor:
            params["cursor"] = cursor
        else:
            params["start_time"] = start_time or 0
        if include:
            params["include"] = include
        return self.http.request("GET", "/api/v2/incremental/tickets/cursor.json",
                                 "GET incremental/tickets/cursor", params=params).json()

    def view_id(self, title: str) -> int | None:
        """The id of the active view with this title (the "SMS tickets" view provision makes)."""
        resp = self.http.request("GET", "/api/v2/views", "GET views",
                                 params={"active": "true", "per_page": 100})
        found = [v for v in resp.json().get("views") or [] if v.get("title") == title]
        return int(found[0]["id"]) if found else None

    def view_tickets(self, view_id: int, cursor: str | None = None,
                     ) -> tuple[list[Ticket], str | None]:
        """One page (100 tickets) of a view's tickets, and the cursor of the next page."""
        params: dict[str, Any] = {"page[size]": 100}
        if cursor:
            params["page[after]"] = cursor
        doc = self.http.request("GET", f"/api/v2/views/{view_id}/tickets",
                                "GET views/{id}/tickets", params=params).json()
        meta = doc.get("meta") or {}
        after = meta.get("after_cursor") if meta.get("has_more") else None
        return [_ticket(t) for t in doc.get("tickets") or []], after

    def tickets_by_external_id(self, external_id: str) -> list[Ticket]:
        resp = self.http.request("GET", "/api/v2/tickets", "GET tickets?external_id",
                                 params={"external_id": external_id})
        return [_ticket(t) for t in resp.json().get("tickets") or []]

    def comments(self, ticket_id: int) -> list[Comment]:
        """The ticket's first page of comments, oldest first (its first comment leads)."""
        resp = self.http.request("GET", f"/api/v2/tickets/{ticket_id}/comments",
                                 "GET tickets/{id}/comments")
        return [_comment(c) for c in resp.json().get("comments") or []]

    def comments_newest_first(self, ticket_id: int) -> Iterator[Comment]:
        """Every comment, newest first, one page of 100 at a time as the caller reads on
        (cursor pagination: `page[size]`, `sort=-created_at`, `meta.has_more`, `links.next`):
        a recent write is found on the first page however long the ticket."""
        params: dict[str, Any] | None = {"page[size]": 100, "sort": "-created_at"}
        path: str | None = f"/api/v2/tickets/{ticket_id}/comments"
        while path:
            doc = self.http.request("GET", path, "GET tickets/{id}/comments",
                                    params=params).json()
            yield from (_comment(c) for c in doc.get("comments") or [])
            more = (doc.get("meta") or {}).get("has_more")
            path = _on_base((doc.get("links") or {}).get("next"), self.http.base_url) \
                if more else None
            params = None          # the next link carries them


def _comment(c: dict[str, Any]) -> Comment:
    return Comment(int(c["id"]), c.get("author_id"), c.get("body") or "", bool(c.get("public")))


def _on_base(link: str | None, base: str) -> str | None:
    """A `links.next` URL as a path on the API's base (None: none, or another host)."""
    return link[len(base):] if link and link.startswith(base + "/") else None


def _ticket(doc: dict[str, Any]) -> Ticket:
    return Ticket(int(doc["id"]), str(doc.get("status") or "new").lower(), doc.get("external_id"))
