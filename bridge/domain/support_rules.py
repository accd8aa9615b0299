"""Support state on the profile (M5) as pure functions: which change a ticket metric makes to the
requester's open tickets, and how an event carries the result to Klaviyo.

An `Opened Ticket` adds the ticket to the requester's not-closed tickets, a `Resolved Ticket`
removes it for good (closed is final in Zendesk, so a late `Opened Ticket` never re-adds it).
The count rides inside the event's `profile` object (`attributes.properties`), which Klaviyo
applies to the profile as it records the event [doc]: no extra call.

A count, not a boolean: Klaviyo keeps the value of the event it processes last. The bridge makes
the last event it sends for a requester carry the latest count (adapters/support_state.py holds
the requester while it reads and sends); if Klaviyo itself applied two accepted events out of
order, the harmful case (the event that brings the count to 0 overtaken by an older one) is
wrong with a boolean as well, so a boolean would buy nothing where it matters and lose "how many".
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bridge.domain.metric_rules import OPENED, RESOLVED, MetricEvent

DEFAULT_PROPERTY = "Open support tickets"
OPENED_CHANGE, CLOSED_CHANGE = "opened", "closed"


def change_of(metric: str) -> str | None:
    """What a metric event does to the requester's open tickets: opened, closed, or nothing."""
    return {OPENED: OPENED_CHANGE, RESOLVED: CLOSED_CHANGE}.get(metric)


def identity(profile: dict[str, Any]) -> dict[str, Any]:
    """The attributes that find the profile (email or phone), without the properties it sets."""
    return {k: v for k, v in profile.items() if k != "properties"}


def with_open_tickets(event: MetricEvent, name: str, open_tickets: int) -> MetricEvent:
    """The event, its profile object also setting `name` = `open_tickets` (M5)."""
    return replace(event, profile={**identity(event.profile),
                                   "properties": {name: max(open_tickets, 0)}})
