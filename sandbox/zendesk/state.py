"""Zendesk's in-memory account: users, groups, tickets, comments, and the rules that change them.

This is the part of the stand-in that must behave like Zendesk (status machine, closed tickets
refusing updates, follow-ups, user matching, idempotency keys, the incremental export). It knows
nothing of HTTP: the blueprint in `api.py` calls these methods under `sb.lock` and turns a
`ZendeskError` into Zendesk's error bodies. Every change that Zendesk would announce through an
event subscription is returned as `TicketEvent`s; `webhooks.publish` sends them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

from sandbox import seed
from sandbox.zendesk.model import (
    DEFAULT_BRAND_ID,
    PRIORITIES,
    STATUSES,
    TYPES,
    Comment,
    Ticket,
    TicketEvent,
    User,
    ZendeskError,
    body_to_html,
    html_to_text,
    iso,
    merge_custom_fields,
    not_found,
    parse_id,
    record_invalid,
)

if TYPE_CHECKING:
    from sandbox.zendesk.webhook_api import Webhook

IDEMPOTENCY_TTL = 2 * 3600
FIRST_TICKET_ID, FIRST_USER_ID, FIRST_EVENT_ID = 101, 10001, 50001


class ZendeskState:
    """The account. Not thread-safe by itself: callers hold `sb.lock`."""

    comment_cap = 5000

    def __init__(self, sb: Any) -> None:
        self.sb = sb
        self.clock_offset = 0.0
        self.reset()

    def reset(self) -> None:
        t = self.now()
        self.users: dict[int, User] = {
            a.id: User(a.id, a.name, a.role, email=a.email, created_at=t, updated_at=t)
            for a in seed.AGENTS}
        self.groups: dict[int, str] = dict(seed.GROUPS)
        self.tickets: dict[int, Ticket] = {}
        self.idempotency: dict[str, tuple[float, str, Any]] = {}
        # Provisioned through the API: webhook_api.py and rules.py own them.
        self.webhooks: dict[str, Webhook] = {}
        self.views: dict[int, dict[str, Any]] = {}
        self.jobs: dict[str, Any] = {}          # bulk jobs by id (jobs.py)
        self.automations: dict[int, dict[str, Any]] = {}
        self.clock_offset = 0.0
        self.comment_cap = type(self).comment_cap
        self._next = {"ticket": FIRST_TICKET_ID, "user": FIRST_USER_ID, "event": FIRST_EVENT_ID,
                      "webhook": 1, "view": 360100001, "automation": 360200001}

    def now(self) -> float:
        """Zendesk's clock: real time shifted by the admin clock offset."""
        return time.time() + self.clock_offset

    def new_id(self, kind: str) -> int:
        self._next[kind] += 1
        return self._next[kind] - 1

    # --- lookups -------------------------------------------------------------------------
    def ticket(self, ticket_id: int) -> Ticket:
        if ticket_id not in self.tickets:
            raise not_found()
        return self.tickets[ticket_id]

    def user(self, user_id: int) -> User:
        if user_id not in self.users:
            raise not_found()
        return self.users[user_id]

    def user_by_email(self, email: str) -> User | None:
        return next((u for u in self.users.values() if email.lower() in u.emails()), None)

    def user_by_external_id(self, external_id: str) -> User | None:
        return next((u for u in self.users.values()
                     if u.external_id and u.external_id.lower() == external_id.lower()), None)

    def api_user(self) -> User:
        found = self.user_by_email(self.sb.config.zendesk_email)
        if found is None:  # the credential's email was changed: act as the seeded API user
            return self.users[seed.AGENTS[-1].id]
        return found

    # --- users ---------------------------------------------------------------------------
    def new_user(self, name: str, email: str | None = None, role: str = "end-user",
                 external_id: str | None = None, phone: str | None = None) -> User:
        t = self.now()
        u = User(self.new_id("user"), name, role, email=email, external_id=external_id,
                 phone=phone, created_at=t, updated_at=t)
        self.users[u.id] = u
        return u

    def create_or_update_user(self, data: dict[str, Any]) -> tuple[User, bool]:
        """Match by external_id or email (never phone) [doc]; answer (user, created)."""
        email, external_id = data.get("email"), data.get("external_id")
        found = (self.user_by_external_id(str(external_id)) if external_id else None) or \
            (self.user_by_email(str(email)) if email else None)
        if found is None:
            if not data.get("name"):
                raise record_invalid("name", "Name:  is too short (minimum one character)")
            role = data.get("role") or "end-user"
            if role not in ("end-user", "agent", "admin"):
                raise record_invalid("role", f"Role: {role} is not valid")
            return self.new_user(str(data["name"]), email, role, external_id,
                                 data.get("phone")), True
        if data.get("name"):
            found.name = str(data["name"])
        if data.get("phone"):
            found.phone = str(data["phone"])
        if external_id:  # Zendesk keeps the case used by the caller
            found.external_id = str(external_id)
        if email and str(email).lower() not in found.emails():
            if found.email is None:
                found.email = str(email)
            else:  # sending email on an update adds a second identity [doc]
                found.extra_emails.append(str(email))
        if data.get("role") in ("end-user", "agent", "admin"):
            found.role = data["role"]
        found.updated_at = self.now()
        return found, False

    # --- idempotency (ticket creation only) ----------------------------------------------
    def idempotent_replay(self, key: str, payload: Any) -> Any | None:
        """The stored answer for `key` if the payload is the same; raise if it differs."""
        self.idempotency = {k: v for k, v in self.idempotency.items()
                            if v[0] > self.now() - IDEMPOTENCY_TTL}
        if key not in self.idempotency:
            return None
        _, digest, answer = self.idempotency[key]
        if digest != _digest(payload):
            raise ZendeskError(400, {"error": "IdempotentRequestError",
                                     "description": "Request parameters differ from the "
                                                    "original request with this idempotency key"})
        return answer

    def remember(self, key: str, payload: Any, answer: Any) -> None:
        self.idempotency[key] = (self.now(), _digest(payload), answer)

    # --- tickets -------------------------------------------------------------------------
    def create_ticket(self, data: dict[str, Any], actor: User,
                      channel: str) -> tuple[Ticket, list[TicketEvent]]:
        """POST /api/v2/tickets (channel "api") or a desk/web-form ticket (channel "web")."""
        comment = data.get("comment")
        if not isinstance(comment, dict) or not (comment.get("body") or comment.get("html_body")):
            raise record_invalid("description", "Description: cannot be blank")
        via: dict[str, Any] = {"channel": channel,
                               "source": {"from": {}, "to": {}, "rel": None}}
        source = None
        if data.get("via_followup_source_id") is not None:
            source = self.tickets.get(_int(data["via_followup_source_id"]))
            if source is None or source.status != "closed":
                raise record_invalid("via_followup_source_id",
                                     "Via followup source: only closed tickets can have "
                                     "follow-ups")
            via = {"channel": "web_service",
                   "source": {"rel": "follow_up", "to": {},
                              "from": {"ticket_id": source.id, "subject": source.subject}}}
        status = _valid_status(data.get("status") or "new")
        author = self.user(_int(comment["author_id"])) if comment.get("author_id") else actor
        changes = self._field_changes(data, list(source.tags) if source else [], {})
        submitter_id = _int(data.get("submitter_id") or actor.id)
        brand_id = _int(data.get("brand_id") or DEFAULT_BRAND_ID)
        requester = self._requester(data, actor, source)  # may create the user: last check
        t = self.now()
        body, html_body = _comment_text(comment)
        ticket = Ticket(id=self.new_id("ticket"), subject=body[:50], description=body,
                        status=status, requester_id=requester.id, submitter_id=submitter_id,
                        via=via, created_at=t, updated_at=t, brand_id=brand_id)
        for name, value in changes.items():
            setattr(ticket, name, value)
        c = Comment(self.new_id("event"), author.id, body, html_body,
                    bool(comment.get("public", True)), channel, t,
                    audit_id=self.new_id("event"))
        ticket.comments.append(c)
        self.tickets[ticket.id] = ticket
        if source is not None:
            source.followup_ids.append(ticket.id)
        return ticket, [TicketEvent("ticket.created", ticket.id, actor.id),
                        TicketEvent("ticket.comment_added", ticket.id, actor.id, c.id)]

    def update_ticket(self, ticket_id: int, data: dict[str, Any], actor: User, channel: str,
                      attachments: list[dict[str, Any]] | None = None
                      ) -> tuple[Ticket, dict[str, Any], list[TicketEvent]]:
        """PUT /api/v2/tickets/{id} (or a desk action): answer (ticket, audit, events).

        Everything is checked before anything changes, so a refused update leaves the ticket as
        it was; then the comment, the field changes and the status land, each one recorded in
        the audit's events (ids drawn in that order, as Zendesk numbers them).
        """
        ticket = self.ticket(ticket_id)
        comment, author, new_status = self._checked_update(ticket, data, actor, channel)
        changes = self._field_changes(data, ticket.tags, ticket.custom_fields)
        t = self.now()
        audit_id = self.new_id("event")
        events_json: list[dict[str, Any]] = []
        events: list[TicketEvent] = []
        if comment is not None and author is not None:
            body, html_body = _comment_text(comment)
            c = Comment(self.new_id("event"), author.id, body, html_body,
                        bool(comment.get("public", True)), channel, t,
                        attachments=list(attachments or []), audit_id=audit_id)
            ticket.comments.append(c)
            events_json.append(_comment_audit_event(c))
            events.append(TicketEvent("ticket.comment_added", ticket.id, actor.id, c.id))
        previous = ticket.status
        diffs = _apply_changes(ticket, changes, new_status, actor)
        if ticket.status != previous:
            events.append(TicketEvent("ticket.status_changed", ticket.id, actor.id,
                                      previous=previous, current=ticket.status))
        events += [TicketEvent("ticket.tags_changed", ticket.id, actor.id,
                               tags_added=tuple(t for t in new if t not in old),
                               tags_removed=tuple(t for t in old if t not in new))
                   for name, old, new in diffs if name == "tags"]
        events_json += [{"id": self.new_id("event"), "type": "Change", "field_name": name,
                         "value": new, "previous_value": old} for name, old, new in diffs]
        ticket.updated_at = t
        audit = {"id": audit_id, "ticket_id": ticket.id, "created_at": iso(t),
                 "author_id": actor.id, "metadata": {"system": {}, "custom": {}},
                 "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
                 "events": events_json}
        return ticket, audit, events

    def _checked_update(self, ticket: Ticket, data: dict[str, Any], actor: User, channel: str
                        ) -> tuple[dict[str, Any] | None, User | None, str | None]:
        """The refusals of an update, in Zendesk's order, before anything changes: answer
        (comment, its author, the new status). An end user's own reply from the desk ("web")
        to a pending or solved ticket reopens it, as Zendesk does."""
        if ticket.status == "closed":
            raise record_invalid("status", "Status: closed prevents ticket update")
        comment = data.get("comment")
        if comment is not None and (not isinstance(comment, dict)
                                    or not (comment.get("body") or comment.get("html_body"))):
            raise record_invalid("comment", "Comment: body cannot be blank")
        if comment is not None and len(ticket.comments) >= self.comment_cap:
            raise record_invalid("base", f"Ticket has reached the maximum of "
                                         f"{self.comment_cap} comments")
        author = None
        if comment is not None:
            author = self.user(_int(comment["author_id"])) if comment.get("author_id") else actor
        new_status = _valid_status(data["status"]) if data.get("status") else None
        if new_status == "new" and ticket.status != "new":
            raise record_invalid("status", "Status: new is not valid for this ticket")
        if new_status is None and author is not None and not author.is_staff \
                and ticket.status in ("pending", "solved") and channel == "web":
            new_status = "open"
        return comment, author, new_status

    def set_status(self, ticket_id: int, status: str, actor: User) -> list[TicketEvent]:
        """A status change from the desk or Zendesk itself (auto-close)."""
        ticket = self.ticket(ticket_id)
        status = _valid_status(status)
        if ticket.status == status:
            return []
        if ticket.status == "closed":
            raise record_invalid("status", "Status: closed prevents ticket update")
        if status == "new":
            raise record_invalid("status", "Status: new is not valid for this ticket")
        previous, ticket.status, ticket.updated_at = ticket.status, status, self.now()
        return [TicketEvent("ticket.status_changed", ticket.id, actor.id,
                            previous=previous, current=status)]

    def _requester(self, data: dict[str, Any], actor: User, source: Ticket | None) -> User:
        if data.get("requester_id") is not None:
            try:
                return self.user(_int(data["requester_id"]))
            except ZendeskError:
                raise record_invalid("requester", "Requester: is invalid") from None
        req = data.get("requester")
        if isinstance(req, dict) and (req.get("email") or req.get("name")):
            email = req.get("email")
            found = self.user_by_email(str(email)) if email else None
            return found or self.new_user(str(req.get("name") or str(email).split("@")[0]),
                                          _opt_str(email))
        if source is not None:  # follow-ups keep the source's requester [assumed]
            return self.users[source.requester_id]
        return actor

    def _field_changes(self, data: dict[str, Any], tags: list[str],
                       fields: dict[int, Any]) -> dict[str, Any]:
        """Validate the fields shared by create and update and answer the new values, so a
        refused request changes nothing. Tags sent REPLACE the list [doc]."""
        out: dict[str, Any] = {}
        if "assignee_id" in data:
            aid = None if data["assignee_id"] is None else _int(data["assignee_id"])
            if aid is not None and (aid not in self.users or not self.users[aid].is_staff):
                raise record_invalid("assignee", "Assignee: is not an agent")
            out["assignee_id"] = aid
        if "group_id" in data:
            gid = None if data["group_id"] is None else _int(data["group_id"])
            if gid is not None and gid not in self.groups:
                raise record_invalid("group", "Group: is invalid")
            out["group_id"] = gid
        for name, allowed in (("priority", PRIORITIES), ("type", TYPES)):
            if name in data:
                if data[name] is not None and data[name] not in allowed:
                    raise record_invalid(name, f"{name.title()}: {data[name]} is not valid")
                out[name] = data[name]
        if data.get("subject"):
            out["subject"] = str(data["subject"])
        if "external_id" in data:
            out["external_id"] = _opt_str(data["external_id"])
        new_tags = _tags(data["tags"]) if "tags" in data else list(tags)
        new_tags += [t for t in _tags(data.get("additional_tags")) if t not in new_tags]
        removed = set(_tags(data.get("remove_tags")))
        out["tags"] = [t for t in new_tags if t not in removed]
        for key in ("custom_fields", "fields"):  # Zendesk takes either name [doc]
            if key in data:
                out["custom_fields"] = merge_custom_fields(data[key],
                                                           out.get("custom_fields", fields))
        return out

    # --- incremental export --------------------------------------------------------------
    def export(self, start_time: float | None, cursor: str | None,
               per_page: int) -> tuple[list[Ticket], str, bool]:
        """Tickets by (updated_at, id) after the position, excluding the last minute [doc].

        Answers (page, after_cursor, end_of_stream). The cursor is opaque to clients.
        """
        position = _decode_cursor(cursor) if cursor else (float(start_time or 0) - 1e-6, 0)
        cutoff = self.now() - 60
        ready = sorted((t for t in self.tickets.values()
                        if (t.updated_at, t.id) > position and t.updated_at <= cutoff),
                       key=lambda t: (t.updated_at, t.id))
        page = ready[:per_page]
        last = (page[-1].updated_at, page[-1].id) if page else position
        return page, _encode_cursor(last), len(ready) <= per_page


def _encode_cursor(position: tuple[float, int]) -> str:
    return base64.urlsafe_b64encode(f"{position[0]!r}|{position[1]}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[float, int]:
    try:
        ts, tid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return float(ts), int(tid)
    except (ValueError, UnicodeDecodeError):
        raise ZendeskError(400, {"error": "InvalidPaginationParameter",
                                 "description": "cursor is invalid"}) from None


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _comment_audit_event(c: Comment) -> dict[str, Any]:
    """A comment as the audit's "Comment" event lists it."""
    return {"id": c.id, "type": "Comment", "body": c.body, "html_body": c.html_body,
            "plain_body": c.body, "public": c.public, "author_id": c.author_id,
            "attachments": c.attachments, "audit_id": c.audit_id}


def _apply_changes(ticket: Ticket, changes: dict[str, Any], new_status: str | None,
                   actor: User) -> list[tuple[str, Any, Any]]:
    """Set the checked field changes and the new status on `ticket`; answer what really changed
    as (field, before, after), status first, custom fields by id: the audit's "Change" events.
    A staff member who solves or closes an unassigned ticket is assigned to it [assumed]."""
    before = {k: getattr(ticket, k) for k in ("assignee_id", "group_id", "priority", "type",
                                              "subject", "external_id")}
    before_tags, before_fields = list(ticket.tags), dict(ticket.custom_fields)
    for name, value in changes.items():
        setattr(ticket, name, value)
    previous = ticket.status
    if new_status is not None and new_status != previous:
        ticket.status = new_status
        if new_status in ("solved", "closed") and ticket.assignee_id is None and actor.is_staff:
            ticket.assignee_id = actor.id
    diffs = [(k, v, getattr(ticket, k)) for k, v in before.items() if getattr(ticket, k) != v]
    if ticket.tags != before_tags:
        diffs.append(("tags", before_tags, list(ticket.tags)))
    diffs += [(str(f), before_fields.get(f), ticket.custom_fields.get(f))
              for f in sorted(set(before_fields) | set(ticket.custom_fields))
              if before_fields.get(f) != ticket.custom_fields.get(f)]
    if ticket.status != previous:
        diffs.insert(0, ("status", previous, ticket.status))
    return diffs


def _comment_text(comment: dict[str, Any]) -> tuple[str, str]:
    if comment.get("body"):
        body = str(comment["body"])
        return body, str(comment.get("html_body") or body_to_html(body))
    markup = str(comment["html_body"])
    return html_to_text(markup), markup


def _valid_status(status: Any) -> str:
    if status not in STATUSES:
        raise record_invalid("status", f"Status: {status} is not valid")
    return str(status)


def _int(value: Any) -> int:
    return parse_id(value, "InvalidValue")


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    items = value.split() if isinstance(value, str) else list(value)
    out: list[str] = []
    for tag in items:  # Zendesk lower-cases tags and drops duplicates
        t = str(tag).strip().lower().replace(" ", "_")
        if t and t not in out:
            out.append(t)
    return out
