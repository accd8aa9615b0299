"""Ticket metrics rules M1-M3 as pure functions: which Klaviyo event a ticket change makes, with
which properties, on which profile, under which unique_id.

Handlers (handlers/ticket_metric.py, ops/backfill.py) fetch the ticket and apply these;
nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.domain.coerce import as_id, as_list, as_obj

OPENED, RESOLVED = "Opened Ticket", "Resolved Ticket"
PROPERTY_KEYS = ("Assignee_email", "Assignee_name", "Channel", "Description", "Fields",
                 "Group_name", "Priority", "Subject", "Tags", "Ticket_id", "Type", "Via",
                 "Zendesk_url", "Status")


@dataclass(frozen=True)
class MetricEvent:
    """One event to record on a Klaviyo profile."""

    metric: str
    ticket_id: int
    time: str                        # ISO-8601: when it happened in Zendesk
    profile: dict[str, Any]          # {"email": ...} or {"phone_number": ...} (+ M5 properties)
    properties: dict[str, Any]
    unique_id: str
    requester_id: int | None = None  # whose open tickets M5 counts (None: parked before M5)


def metric_for_change(kind: str, new_status: str | None) -> str | None:
    """M1: created -> Opened Ticket; status changed to closed -> Resolved Ticket; else nothing
    (solved is not resolved: a solved ticket can still be reopened)."""
    if kind == "ticket.created":
        return OPENED
    if kind == "ticket.status_changed" and (new_status or "").lower() == "closed":
        return RESOLVED
    return None


def unique_id(ticket_id: int, metric: str) -> str:
    """Deterministic, so Klaviyo stores each ticket's event once whoever sends it (M1)."""
    return f"zendesk-ticket-{ticket_id}-{'opened' if metric == OPENED else 'resolved'}"


def profile_identity(requester: dict[str, Any] | None) -> dict[str, str] | None:
    """M3: the requester's email, else their phone; None if neither is known."""
    if not requester:
        return None
    if requester.get("email"):
        return {"email": str(requester["email"])}
    if requester.get("phone"):
        return {"phone_number": str(requester["phone"])}
    return None


def ticket_properties(ticket: dict[str, Any], users: dict[int, dict[str, Any]],
                      groups: dict[int, dict[str, Any]], zendesk_url: str,
                      status: str | None = None) -> dict[str, Any]:
    """M2: exactly PROPERTY_KEYS; absent values are None, never a crash."""
    assignee = users.get(as_id(ticket.get("assignee_id")) or -1) or {}
    group = groups.get(as_id(ticket.get("group_id")) or -1) or {}
    via = as_obj(ticket.get("via"))
    source = as_obj(via.get("source"))
    fields = {str(f.get("id")): f.get("value") for f in as_list(ticket.get("custom_fields"))
              if isinstance(f, dict) and f.get("value") is not None}
    tid = as_id(ticket.get("id"))
    props = {
        "Assignee_email": assignee.get("email"),
        "Assignee_name": assignee.get("name"),
        "Channel": via.get("channel"),
        "Description": ticket.get("description"),
        "Fields": fields or None,
        "Group_name": group.get("name"),
        "Priority": ticket.get("priority"),
        "Subject": ticket.get("subject"),
        "Tags": list(as_list(ticket.get("tags"))),
        "Ticket_id": tid,
        "Type": ticket.get("type"),
        "Via": source.get("rel") or via.get("channel"),
        "Zendesk_url": f"{zendesk_url.rstrip('/')}/agent/tickets/{tid}" if tid else None,
        "Status": (status or ticket.get("status") or None),
    }
    return {k: props[k] for k in PROPERTY_KEYS}


def build_event(metric: str, ticket: dict[str, Any], users: dict[int, dict[str, Any]],
                groups: dict[int, dict[str, Any]], zendesk_url: str, time: str,
                status: str | None = None) -> MetricEvent | None:
    """The event for `ticket`, or None when its requester has neither email nor phone."""
    requester_id = as_id(ticket.get("requester_id"))
    profile = profile_identity(users.get(requester_id or -1))
    tid = as_id(ticket.get("id"))
    if profile is None or tid is None:
        return None
    return MetricEvent(metric=metric, ticket_id=tid, time=time, profile=profile,
                       properties=ticket_properties(ticket, users, groups, zendesk_url, status),
                       unique_id=unique_id(tid, metric), requester_id=requester_id)
