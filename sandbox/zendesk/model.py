"""Zendesk's objects as the API shows them: users, tickets, comments, ticket fields, errors.

Plain records with their JSON rendering (`as_json`), kept apart from the rules that change them
(`state.py`) so each file has one job. Shapes follow the Tickets / Ticket Comments /
Users reference pages; `tests/sandbox/test_zendesk_conformance.py` checks them against the specs.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("urgent", "high", "normal", "low")
TYPES = ("problem", "incident", "question", "task")
DEFAULT_BRAND_ID = 8001


@dataclass(frozen=True)
class TicketField:
    """A ticket field definition. Custom fields are what `ticket.custom_fields` lists."""

    id: int
    type: str                       # text / tagger (drop-down) / checkbox; or a system type
    title: str
    options: tuple[str, ...] = ()   # tagger values
    system: bool = False

    def as_json(self, base: str) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "url": f"{base}api/v2/ticket_fields/{self.id}.json",
                               "type": self.type, "title": self.title, "raw_title": self.title,
                               "description": "", "raw_description": "", "position": 0,
                               "active": True, "required": False, "collapsed_for_agents": False,
                               "regexp_for_validation": None, "title_in_portal": self.title,
                               "raw_title_in_portal": self.title, "visible_in_portal": False,
                               "editable_in_portal": False, "required_in_portal": False,
                               "tag": None, "removable": not self.system,
                               "agent_description": None, "created_at": "2026-01-01T00:00:00Z",
                               "updated_at": "2026-01-01T00:00:00Z"}
        if self.options:  # drop-downs list their options [doc]
            out["custom_field_options"] = [
                {"id": self.id * 10 + i, "name": o.replace("_", " ").capitalize(),
                 "raw_name": o.replace("_", " ").capitalize(), "value": o, "default": False}
                for i, o in enumerate(self.options, 1)]
        return out


# The account's ticket fields [assumed ids]: system fields first, then the custom ones that
# tickets carry in `custom_fields` (every custom field is listed, unset ones with their default).
SYSTEM_FIELDS = tuple(TicketField(20000 + i, kind, title, system=True) for i, (kind, title) in
                      enumerate((("subject", "Subject"), ("description", "Description"),
                                 ("status", "Status"), ("tickettype", "Type"),
                                 ("priority", "Priority"), ("group", "Group"),
                                 ("assignee", "Assignee")), 1))
CUSTOM_FIELDS = (
    TicketField(360001, "text", "Order number"),
    TicketField(360002, "tagger", "Return reason", ("damaged", "wrong_item", "changed_mind")),
    TicketField(360003, "checkbox", "Gift order"),
    TicketField(360004, "textarea", "SMS context"),   # as `zkbridge provision --context-field`
)
CUSTOM_FIELD_IDS = {f.id: f for f in CUSTOM_FIELDS}


class ZendeskError(Exception):
    """A refusal with Zendesk's status code and JSON body."""

    def __init__(self, status: int, body: dict[str, Any],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("error"))
        self.status, self.body, self.headers = status, body, headers or {}


def not_found() -> ZendeskError:
    return ZendeskError(404, {"error": "RecordNotFound", "description": "Not found"})


def parse_id(value: Any, error: str) -> int:
    """`value` as an integer id, else a 400 whose `error` code the caller names: the API says
    "InvalidValue" [seen], the sandbox's own desk routes "bad_request"."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ZendeskError(400, {"error": error,
                                 "description": f"{value!r} is not an id"}) from None


def record_invalid(field_name: str, description: str) -> ZendeskError:
    return ZendeskError(422, {"error": "RecordInvalid", "description": "Record validation errors",
                              "details": {field_name: [{"description": description}]}})


def merge_custom_fields(raw: Any, current: dict[int, Any]) -> dict[int, Any]:
    """`[{"id", "value"}]` merged by id into the current values (fields not sent keep theirs).

    Unknown ids are ignored and null/"" clears a value [assumed]; a drop-down takes only its
    option values (else 422), a checkbox any truthy value, a text field a string.
    """
    if not isinstance(raw, list) or not all(
            isinstance(f, dict) and isinstance(f.get("id"), int | str) for f in raw):
        raise ZendeskError(400, {"error": "InvalidValue",
                                 "description": "custom_fields must be a list of {id, value}"})
    out = dict(current)
    for item in raw:
        definition = CUSTOM_FIELD_IDS.get(int(item["id"])) if str(item["id"]).isdigit() \
            else None
        if definition is None:
            continue
        value = item.get("value")
        if value is None or value == "":
            out.pop(definition.id, None)
        elif definition.type == "checkbox":
            out[definition.id] = value is True or str(value).lower() in ("true", "1", "yes")
        elif definition.type == "tagger" and value not in definition.options:
            raise record_invalid(str(definition.id),
                                 f"{definition.title}: {value} is not a valid option")
        else:
            out[definition.id] = str(value)
    return out


def iso(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def body_to_html(body: str) -> str:
    """Zendesk renders a plain comment as escaped paragraphs."""
    return "<p>" + html.escape(body).replace("\n", "<br>") + "</p>"


def html_to_text(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<br\s*/?>", "\n", markup))).strip()


@dataclass
class User:
    id: int
    name: str
    role: str                       # end-user / agent / admin
    email: str | None = None
    external_id: str | None = None
    phone: str | None = None
    extra_emails: list[str] = field(default_factory=list)  # further identities
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def is_staff(self) -> bool:
        return self.role in ("agent", "admin")

    def emails(self) -> list[str]:
        return [e.lower() for e in [self.email, *self.extra_emails] if e]

    def as_json(self, base: str) -> dict[str, Any]:
        return {"id": self.id, "url": f"{base}api/v2/users/{self.id}.json", "name": self.name,
                "email": self.email, "role": self.role, "role_type": None,
                "external_id": self.external_id, "phone": self.phone,
                "shared_phone_number": None, "active": True, "verified": bool(self.email),
                "suspended": False, "time_zone": "UTC", "iana_time_zone": "Etc/UTC",
                "locale": "en-US", "locale_id": 1, "organization_id": None, "tags": [],
                "user_fields": {}, "details": "", "notes": "", "alias": "", "signature": None,
                "photo": None, "moderator": self.is_staff, "restricted_agent": False,
                "only_private_comments": False, "ticket_restriction": None,
                "default_group_id": None, "custom_role_id": None, "report_csv": False,
                "shared": False, "shared_agent": False, "two_factor_auth_enabled": None,
                "last_login_at": None, "created_at": iso(self.created_at),
                "updated_at": iso(self.updated_at)}


@dataclass
class Comment:
    id: int
    author_id: int
    body: str
    html_body: str
    public: bool
    channel: str                    # "api" or "web"
    created_at: float
    attachments: list[dict[str, Any]] = field(default_factory=list)
    audit_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": "Comment", "author_id": self.author_id, "body": self.body,
                "html_body": self.html_body, "plain_body": self.body, "public": self.public,
                "attachments": self.attachments, "audit_id": self.audit_id,
                "via": {"channel": self.channel, "source": {"from": {}, "to": {}, "rel": None}},
                "metadata": {"system": {}, "custom": {}}, "created_at": iso(self.created_at)}


@dataclass
class Ticket:
    id: int
    subject: str
    description: str
    status: str
    requester_id: int
    submitter_id: int
    via: dict[str, Any]
    created_at: float
    updated_at: float
    priority: str | None = None
    type: str | None = None
    assignee_id: int | None = None
    group_id: int | None = None
    brand_id: int = DEFAULT_BRAND_ID
    external_id: str | None = None
    tags: list[str] = field(default_factory=list)
    custom_fields: dict[int, Any] = field(default_factory=dict)   # custom field id -> value
    followup_ids: list[int] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)

    def fields_json(self) -> list[dict[str, Any]]:
        """Every custom field; an unset checkbox reads false, anything else unset null."""
        return [{"id": f.id, "value": self.custom_fields.get(
            f.id, False if f.type == "checkbox" else None)} for f in CUSTOM_FIELDS]

    def as_json(self, base: str) -> dict[str, Any]:
        fields = self.fields_json()
        return {"id": self.id, "url": f"{base}api/v2/tickets/{self.id}.json",
                "external_id": self.external_id, "type": self.type, "subject": self.subject,
                "raw_subject": self.subject, "description": self.description,
                "priority": self.priority, "status": self.status, "recipient": None,
                "requester_id": self.requester_id, "submitter_id": self.submitter_id,
                "assignee_id": self.assignee_id, "organization_id": None,
                "group_id": self.group_id, "collaborator_ids": [], "follower_ids": [],
                "email_cc_ids": [], "forum_topic_id": None, "problem_id": None,
                "has_incidents": False, "is_public": any(c.public for c in self.comments),
                "due_at": None, "tags": list(self.tags), "custom_fields": fields,
                "fields": fields, "satisfaction_rating": None,
                "sharing_agreement_ids": [], "followup_ids": list(self.followup_ids),
                "ticket_form_id": None, "brand_id": self.brand_id, "allow_channelback": False,
                "allow_attachments": True, "from_messaging_channel": False,
                "generated_timestamp": int(self.updated_at), "via": self.via,
                "created_at": iso(self.created_at), "updated_at": iso(self.updated_at)}


@dataclass(frozen=True)
class TicketEvent:
    """What an event subscription announces: ticket.created / comment_added / status_changed /
    tags_changed (with the tags it added and removed)."""

    kind: str
    ticket_id: int
    actor_id: int
    comment_id: int | None = None
    previous: str | None = None
    current: str | None = None
    tags_added: tuple[str, ...] = ()
    tags_removed: tuple[str, ...] = ()
