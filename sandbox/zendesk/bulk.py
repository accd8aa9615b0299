"""Bulk seeding of past tickets for benchmarks and backfill tests.

A backfill reads thousands of tickets through the incremental export. Making them one API call
at a time would take minutes and fire thousands of webhooks no test wants, so this builds them
straight into ZendeskState (same records, same id counters, a first comment each) with
timestamps in the past, and publishes nothing: it is history, not live events. Every value is
a function of the ticket's position, so a test can work out what it should find.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sandbox import seed
from sandbox.zendesk.model import CUSTOM_FIELD_IDS, Comment, Ticket, User, body_to_html

MAX_COUNT = 100_000
STATUSES = ("open", "pending", "solved", "new", "hold")   # the tickets that are not closed
PRIORITIES = (None, "low", "normal", "high", "urgent")
TYPES = (None, "question", "incident", "problem", "task")
TOPICS = ("shipping", "returns", "billing")
AGENTS = (seed.AGENTS[0].id, seed.AGENTS[1].id)   # Ana and Dana; never the API user
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
FIELDS = ("count", "start_time", "spacing_seconds", "closed_every", "closed_after_seconds",
          "phone_only_every", "requester_emails", "requester_phones")


@dataclass(frozen=True)
class BulkSpec:
    count: int
    start_time: float
    spacing_seconds: float = 60.0
    closed_every: int = 0            # every K-th ticket (K, 2K, ...) is closed; 0: none
    closed_after_seconds: float = 300.0
    phone_only_every: int = 0        # every M-th ticket's requester has a phone and no email
    requester_emails: tuple[str, ...] = ()
    requester_phones: tuple[str, ...] = ()


def _number(d: dict[str, Any], name: str, default: float, whole: bool = False) -> Any:
    value = d.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (
            whole and value != int(value)):
        raise ValueError(f"{name} must be a {'whole ' if whole else ''}number >= 0")
    return int(value) if whole else float(value)


def _strings(d: dict[str, Any], name: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
    value = d.get(name) or []
    if not isinstance(value, list) or len(value) > 1000 or not all(
            isinstance(v, str) and pattern.match(v) for v in value):
        raise ValueError(f"{name} must be a list of at most 1000 valid values")
    return tuple(dict.fromkeys(value))


def parse_spec(d: dict[str, Any], now: float) -> BulkSpec:
    """Validate the admin request (ValueError says what is wrong). By default the tickets
    end an hour before `now`, so the export can return all of them at once."""
    unknown = set(d) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}; allowed {FIELDS}")
    count = _number(d, "count", 0, whole=True)
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be 1..{MAX_COUNT}")
    spacing = _number(d, "spacing_seconds", 60.0)
    return BulkSpec(count=count,
                    start_time=_number(d, "start_time", now - 3600 - count * spacing),
                    spacing_seconds=spacing,
                    closed_every=_number(d, "closed_every", 0, whole=True),
                    closed_after_seconds=_number(d, "closed_after_seconds", 300.0),
                    phone_only_every=_number(d, "phone_only_every", 0, whole=True),
                    requester_emails=_strings(d, "requester_emails", re.compile(r"^[^@\s]+@\S+$")),
                    requester_phones=_strings(d, "requester_phones", E164))


def _requesters(state: Any, spec: BulkSpec) -> tuple[list[User], list[User]]:
    """End users with an email (the given ones, reused if known) and, when asked for, a few
    with only a phone."""
    emails = spec.requester_emails or tuple(f"bulk.customer{j}@example.com" for j in range(1, 6))
    with_email = [state.user_by_email(e) or state.new_user(
        e.split("@")[0].replace(".", " ").title(), e) for e in emails]
    phones = spec.requester_phones or tuple(f"+1500555{2000 + j}" for j in range(1, 4))
    phone_only = [next((u for u in state.users.values() if u.phone == p and not u.email), None)
                  or state.new_user(f"Phone Customer {p[-4:]}", phone=p)
                  for p in (phones if spec.phone_only_every else ())]
    return with_email, phone_only


def bulk_create(state: Any, spec: BulkSpec) -> dict[str, Any]:
    """Create the tickets; answers ids, count and what a test needs to predict results."""
    with_email, phone_only = _requesters(state, spec)
    first = closed = phoned = 0
    for i in range(spec.count):
        k, topic = i + 1, TOPICS[i % len(TOPICS)]
        is_closed = bool(spec.closed_every) and k % spec.closed_every == 0
        if spec.phone_only_every and k % spec.phone_only_every == 0:
            requester = phone_only[(k // spec.phone_only_every - 1) % len(phone_only)]
            phoned += 1
        else:
            requester = with_email[i % len(with_email)]
        status = "closed" if is_closed else STATUSES[i % len(STATUSES)]
        assignee = AGENTS[(i // 2) % len(AGENTS)] \
            if status in ("solved", "closed") or i % 2 == 0 else None
        group = seed.GROUPS[i % len(seed.GROUPS)][0] if assignee or i % 3 == 0 else None
        created = spec.start_time + i * spec.spacing_seconds
        updated = created + spec.closed_after_seconds if is_closed else created
        body = f"Bulk ticket {k}: a {topic} question."
        fields: dict[int, Any] = {360001: f"A{100000 + k}"}
        if topic == "returns":
            fields[360002] = CUSTOM_FIELD_IDS[360002].options[(i // 3) % 3]
        if k % 4 == 0:
            fields[360003] = True
        ticket = Ticket(id=state.new_id("ticket"), subject=f"{topic.title()} question #{k}",
                        description=body, status=status, requester_id=requester.id,
                        submitter_id=requester.id, created_at=created, updated_at=updated,
                        via={"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
                        priority=PRIORITIES[i % len(PRIORITIES)], type=TYPES[i % len(TYPES)],
                        assignee_id=assignee, group_id=group, custom_fields=fields,
                        tags=["bulk", topic] + (["vip"] if k % 10 == 0 else []))
        ticket.comments.append(Comment(state.new_id("event"), requester.id, body,
                                       body_to_html(body), True, "web", created,
                                       audit_id=state.new_id("event")))
        state.tickets[ticket.id] = ticket
        first, closed = first or ticket.id, closed + is_closed
    return {"ids": [first, first + spec.count - 1], "count": spec.count, "closed": closed,
            "phone_only": phoned, "requester_ids": [u.id for u in with_email],
            "phone_only_requester_ids": [u.id for u in phone_only]}
