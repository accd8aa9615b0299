"""Fakes of the vendor ports (bridge/ports.py) for handler tests, in cosmicpython's manner: they
keep what the vendor would keep and record outcomes (`zendesk.tickets`, `klaviyo.sent`), so a test
asserts what happened, not how it was asked. They do nothing the real vendor does not do.

Any fake can be told to fail its next call(s) of a method: `fake.fail_next("update_ticket", err)`
raises `err` instead of carrying the call out; with `applied=True` the call is carried out first
and then `err` is raised (a timeout after the vendor acted: `Retryable` with `maybe_applied`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any, TypeVar

import fakeredis

from bridge.adapters.store import Store
from bridge.domain.context import LastSms
from bridge.domain.metric_rules import MetricEvent
from bridge.domain.model import Comment, Profile, Ticket
from bridge.errors import TicketClosed, TicketGone

T = TypeVar("T")


def store() -> Store:
    """The real Redis stores, on an in-process fake Redis."""
    return Store(fakeredis.FakeRedis())


class Clock:
    """A clock the test moves: `clock()` is now; `clock.sleep(s)` (inject as `sleep`) and
    `clock.advance(s)` move it on without waiting."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    sleep = advance


class Fallible:
    """`calls` counts each method's calls; `fail_next` queues errors for the next calls."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._failures: dict[str, list[tuple[BaseException, bool]]] = {}

    def fail_next(self, method: str, *errors: BaseException, applied: bool = False) -> None:
        self._failures.setdefault(method, []).extend((e, applied) for e in errors)

    def _call(self, method: str, carry_out: Callable[[], T]) -> T:
        self.calls[method] += 1
        error, applied = (self._failures.get(method) or [(None, False)])[0]
        if error is not None:
            self._failures[method].pop(0)
        if error is not None and not applied:
            raise error
        result = carry_out()
        if error is not None:
            raise error
        return result


class FakeZendesk(Fallible):
    """bridge.ports.TicketApi. Tickets are Zendesk-shaped dicts; ids count up from 101.
    Given a clock, an Idempotency-Key is forgotten after 2 hours, as Zendesk does."""

    KEY_SECONDS = 2 * 3600

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        super().__init__()
        self._clock = clock
        self.users: dict[int, dict[str, Any]] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self._comments: dict[int, list[Comment]] = {}
        self._by_key: dict[str, tuple[int, float]] = {}   # Idempotency-Key -> (ticket id, when)
        self._next_id = 100
        self.export_page_size = 1000            # a test may make the export's pages smaller

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # --- what a test reads --------------------------------------------------------------------
    def comments_on(self, ticket_id: int) -> list[str]:
        """Bodies of the ticket's public comments, oldest first."""
        return [c.body for c in self._comments.get(ticket_id, []) if c.public]

    def notes_on(self, ticket_id: int) -> list[str]:
        return [c.body for c in self._comments.get(ticket_id, []) if not c.public]

    @property
    def notes(self) -> list[tuple[int, str]]:
        """Every internal note: (ticket id, body)."""
        return [(tid, c.body) for tid, cs in self._comments.items() for c in cs if not c.public]

    # --- what a test sets up (Zendesk's state before the handler runs) ------------------------
    def add_user(self, name: str = "Alice", **fields: Any) -> int:
        uid = self._new_id()
        self.users[uid] = {"id": uid, "name": name, "role": "end-user", **fields}
        return uid

    def add_ticket(self, *, status: str = "open", comments: tuple[str, ...] = (),
                   **fields: Any) -> int:
        tid = self._new_id()
        self.tickets[tid] = {"id": tid, "status": status, "tags": [], **fields}
        self._comments[tid] = []
        for body in comments:
            self._comment(tid, {"body": body, "author_id": fields.get("requester_id")})
        return tid

    def _comment(self, ticket_id: int, comment: dict[str, Any]) -> int:
        cid = self._new_id()
        self._comments[ticket_id].append(Comment(cid, comment.get("author_id"), comment["body"],
                                                 bool(comment.get("public", True))))
        return cid

    # --- TicketApi ----------------------------------------------------------------------------
    def create_or_update_user(self, *, name: str, email: str | None, external_id: str | None,
                              phone: str | None) -> tuple[int, bool]:
        def carry_out() -> tuple[int, bool]:
            key, value = ("email", email) if email else ("external_id", external_id)
            found = next((u for u in self.users.values() if u.get(key) == value), None)
            if found:
                found.update(name=name, phone=phone or found.get("phone"))
                return found["id"], False
            return self.add_user(name, **{key: value, "phone": phone}), True
        return self._call("create_or_update_user", carry_out)

    def create_ticket(self, ticket: dict[str, Any], idempotency_key: str) -> Ticket:
        def carry_out() -> Ticket:
            now = self._clock() if self._clock else 0.0
            tid, at = self._by_key.get(idempotency_key, (0, 0.0))
            if not tid or now - at >= self.KEY_SECONDS:
                fields = {k: v for k, v in ticket.items() if k != "comment"}
                tid = self.add_ticket(status=fields.pop("status", "new"), **fields)
                self._comment(tid, ticket["comment"])
                self._by_key[idempotency_key] = (tid, now)
            return replace(self._ticket(tid), doc={"id": tid, **self.tickets[tid]})
        return self._call("create_ticket", carry_out)

    def update_ticket(self, ticket_id: int, *, comment: dict[str, Any] | None = None,
                      status: str | None = None,
                      additional_tags: list[str] | None = None) -> tuple[Ticket, int | None]:
        return self._call("update_ticket",
                          lambda: self._update(ticket_id, comment, status, additional_tags))

    def _update(self, ticket_id: int, comment: dict[str, Any] | None, status: str | None,
                additional_tags: list[str] | None = None) -> tuple[Ticket, int | None]:
        if ticket_id not in self.tickets:
            raise TicketGone("zendesk", f"ticket {ticket_id} not found", 404)
        if self.tickets[ticket_id]["status"] == "closed":
            raise TicketClosed("zendesk", f"ticket {ticket_id} is closed", 422)
        comment_id = self._comment(ticket_id, comment) if comment else None
        if status:
            self.tickets[ticket_id]["status"] = status
        tags = self.tickets[ticket_id].setdefault("tags", [])
        tags.extend(t for t in additional_tags or () if t not in tags)
        return self._ticket(ticket_id), comment_id

    def add_note(self, ticket_id: int, body: str) -> int | None:
        return self._call("add_note",
                          lambda: self._update(ticket_id, {"body": body, "public": False}, None)[1])

    def user(self, user_id: int) -> dict[str, Any]:
        return self._call("user", lambda: dict(self.users[user_id]))

    def group(self, group_id: int) -> dict[str, Any]:
        return self._call("group", lambda: {"id": group_id, "name": f"Group {group_id}"})

    def ticket_with_people(self, ticket_id: int) -> tuple[dict[str, Any], dict[int, dict],
                                                          dict[int, dict]]:
        def carry_out() -> tuple[dict[str, Any], dict[int, dict], dict[int, dict]]:
            if ticket_id not in self.tickets:
                raise TicketGone("zendesk", f"ticket {ticket_id} not found", 404)
            ticket = dict(self.tickets[ticket_id])
            people = {ticket.get(k) for k in ("requester_id", "assignee_id", "submitter_id")}
            return ticket, {u: dict(self.users[u]) for u in people if u in self.users}, {}
        return self._call("ticket_with_people", carry_out)

    def tickets_with_people(self, ticket_ids: list[int]) -> dict[int, Any]:
        def carry_out() -> dict[int, Any]:
            found = {}
            for tid in ticket_ids:
                if tid in self.tickets:
                    ticket = dict(self.tickets[tid])
                    people = {ticket.get(k) for k in ("requester_id", "assignee_id",
                                                      "submitter_id")}
                    found[tid] = (ticket, {u: dict(self.users[u]) for u in people
                                           if u in self.users}, {})
            return found
        return self._call("tickets_with_people", carry_out)

    def export_page(self, *, start_time: int | None = None, cursor: str | None = None,
                    include: str | None = None, per_page: int = 1000) -> dict[str, Any]:
        """The tickets in the order they were added, a page at a time (tests seed only what the
        export should return); the cursor is the position after the page, so a ticket added
        later is on a later page. `include` sideloads every user and no group."""
        def carry_out() -> dict[str, Any]:
            tickets = list(self.tickets.values())
            start = int(cursor or 0)
            page = tickets[start:start + min(per_page, self.export_page_size)]
            end = start + len(page)
            out: dict[str, Any] = {"tickets": [dict(t) for t in page], "after_cursor": str(end),
                                   "end_of_stream": end >= len(tickets)}
            if include:
                out.update(users=[dict(u) for u in self.users.values()], groups=[])
            return out
        return self._call("export_page", carry_out)

    def tickets_by_external_id(self, external_id: str) -> list[Ticket]:
        return self._call("tickets_by_external_id", lambda: [
            self._ticket(tid) for tid, t in self.tickets.items()
            if t.get("external_id") == external_id])

    def comments(self, ticket_id: int) -> list[Comment]:
        """The first page (100), oldest first, as Zendesk's default."""
        return self._call("comments", lambda: list(self._comments.get(ticket_id, []))[:100])

    def comments_newest_first(self, ticket_id: int) -> Iterator[Comment]:
        """Newest first, a page of 100 per call as the caller reads on."""
        everything = list(reversed(self._comments.get(ticket_id, [])))
        for start in range(0, max(len(everything), 1), 100):
            yield from self._call("comments_newest_first",
                                  lambda s=start: everything[s:s + 100])

    def _ticket(self, ticket_id: int) -> Ticket:
        t = self.tickets[ticket_id]
        return Ticket(ticket_id, t["status"], t.get("external_id"))


class FakeKlaviyo(Fallible):
    """bridge.ports.SmsApi: profiles, SMS conversations, sent messages and events."""

    def __init__(self, *profiles: Profile) -> None:
        super().__init__()
        self.profiles = {p.id: p for p in profiles}
        self.conversations: dict[str, str] = {}     # profile id -> SMS conversation id
        self.whatsapp_conversations: dict[str, str] = {}   # profile id -> WhatsApp one (S9)
        self.sent: list[tuple[str, str]] = []        # (conversation id, body)
        self.events: list[dict[str, Any]] = []       # each stored once per unique_id (as Klaviyo)
        self.bulk_jobs: list[list[MetricEvent]] = []
        self.backfilled: set[str] = set()          # unique_ids sent with `backfill: true`
        self.events_delayed = False                # `Received SMS` not recorded yet (A6)
        self.profile_properties: dict[str, dict[str, Any]] = {}   # email or phone -> properties
        self.marketing_sms: dict[str, LastSms] = {}   # profile id -> last campaign/flow SMS (A9)

    def get_profile(self, profile_id: str) -> Profile | None:
        return self._call("get_profile", lambda: self.profiles.get(profile_id))

    def find_profile_by_phone(self, phone: str) -> Profile | None:
        return self._call("find_profile_by_phone", lambda: next(
            (p for p in self.profiles.values() if p.phone == phone), None))

    def sms_conversation(self, profile_id: str) -> str | None:
        return self._call("sms_conversation", lambda: self.conversations.get(profile_id))

    def channel_conversation(self, profile_id: str, channel: str) -> str | None:
        """SMS conversations in `conversations`, WhatsApp ones in `whatsapp_conversations`."""
        table = self.whatsapp_conversations if channel == "whatsapp" else self.conversations
        return self._call("sms_conversation", lambda: table.get(profile_id))

    def send_conversation_message(self, conversation_id: str, body: str) -> None:
        self._call("send_conversation_message",
                   lambda: self.sent.append((conversation_id, body)))

    def received_sms_since(self, profile_id: str, since: float,
                           metric_name: str = "Received SMS") -> list[str]:
        """What reached the profile's conversation (`Received SMS`, or the WhatsApp metric);
        empty while `events_delayed` (Klaviyo has not recorded them yet). No clock: `since`
        is ignored."""
        table = self.conversations if metric_name == "Received SMS" \
            else self.whatsapp_conversations
        conversation = table.get(profile_id)
        return self._call("received_sms_since", lambda: [] if self.events_delayed else [
            body for c, body in self.sent if c == conversation])

    def last_marketing_sms(self, profile_id: str) -> LastSms | None:
        return self._call("last_marketing_sms", lambda: self.marketing_sms.get(profile_id))

    def create_event(self, *, metric: str, profile: dict[str, Any], properties: dict[str, Any],
                     unique_id: str, time: str | None = None) -> None:
        self._call("create_event", lambda: self._store_event(
            {"metric": metric, "profile": profile, "properties": properties,
             "unique_id": unique_id, "time": time}))

    def bulk_create_events(self, events: list[MetricEvent], backfill: bool = False) -> None:
        def carry_out() -> None:
            self.bulk_jobs.append(list(events))
            if backfill:
                self.backfilled.update(e.unique_id for e in events)
            for e in events:
                self._store_event({"metric": e.metric, "profile": e.profile,
                                   "properties": e.properties, "unique_id": e.unique_id,
                                   "time": e.time})
        self._call("bulk_create_events", carry_out)

    def _store_event(self, event: dict[str, Any]) -> None:
        """Custom properties in the event's profile object are set on the profile, key by key,
        in the order events arrive (M5); the event is stored once per profile and unique_id."""
        profile = dict(event["profile"])
        who = self._identity(profile)
        self.profile_properties.setdefault(who, {}).update(profile.pop("properties", None) or {})

        def same(e: dict[str, Any]) -> bool:
            return (e["metric"], self._identity(e["profile"]), e["unique_id"]) == (
                event["metric"], who, event["unique_id"])
        if not any(same(e) for e in self.events):
            self.events.append({**event, "profile": profile})

    @staticmethod
    def _identity(profile: dict[str, Any]) -> str:
        return str(profile.get("email") or profile.get("phone_number"))
