"""Klaviyo's wire format: JSON:API documents, `errors[]` bodies, filter expressions, page cursors.

Kept apart from the routes so every answer is shaped in one place, checked against the
OpenAPI file (revision 2026-07-15) by tests/sandbox/test_klaviyo_conformance.py.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Response

from sandbox.klaviyo.state import Conversation, Event, Profile, metric_id
from sandbox.seed import ACME, SeedAccount

JSONAPI = "application/vnd.api+json"
METRICS_SINCE = "2026-01-01T00:00:00+00:00"   # when the sandbox account's metrics began


class ApiError(Exception):
    """Raised anywhere in a Klaviyo route; rendered as `{"errors": [...]}`."""

    def __init__(self, status: int, code: str, title: str, detail: str,
                 pointer: str | None = None, parameter: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.pointer, self.parameter = pointer, parameter

    def response(self, headers: dict[str, str] | None = None) -> Response:
        source: dict[str, str] = {}
        if self.pointer is None and self.parameter is None:
            source["pointer"] = "/data/"      # what Klaviyo names when nothing more precise
        if self.pointer is not None:
            source["pointer"] = self.pointer
        if self.parameter is not None:
            source["parameter"] = self.parameter
        err = {"id": str(uuid.uuid4()), "status": self.status, "code": self.code,
               "title": self.title, "detail": self.detail, "source": source}
        return document({"errors": [err]}, self.status, headers)


def invalid(detail: str, pointer: str | None = None, parameter: str | None = None) -> ApiError:
    return ApiError(400, "invalid", "Invalid input.", detail, pointer, parameter)


def not_found(detail: str) -> ApiError:
    return ApiError(404, "not_found", "Not found.", detail)


def document(body: dict[str, Any] | None, status: int = 200,
             headers: dict[str, str] | None = None) -> Response:
    data = "" if body is None else json.dumps(body)
    return Response(data, status=status, headers=headers or {},
                    content_type=JSONAPI if body is not None else None)


# ---- request bodies ------------------------------------------------------------------------
def data(body: Any, kind: str) -> dict[str, Any]:
    """The primary resource object of a request document, which must be of type `kind`."""
    resource = body.get("data") if isinstance(body, dict) else None
    if not isinstance(resource, dict):
        raise invalid("'data' is a required object.", "/data")
    if resource.get("type") != kind:
        raise invalid(f"'type' must be {kind!r}.", "/data/type")
    return resource


def parse_event(attrs: dict[str, Any], at: str, backfill: Any) -> dict[str, Any]:
    """Event attributes (single or bulk entry; `at` = their JSON pointer) → keyword arguments
    for `KlaviyoState.record_event`. `backfill` is the bulk group's flag, if any."""
    props = attrs.get("properties")
    if not isinstance(props, dict):
        raise invalid("'properties' is a required object.", at + "/properties")
    name = (((attrs.get("metric") or {}).get("data") or {}).get("attributes") or {}).get("name")
    if not isinstance(name, str) or not name:
        raise invalid("A metric name is required.", at + "/metric/data/attributes/name")
    moment = None
    if attrs.get("time") is not None:
        try:
            moment = datetime.fromisoformat(str(attrs["time"]))
        except ValueError as e:
            raise invalid(f"Invalid datetime {attrs['time']!r}.", at + "/time") from e
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    unique_id = attrs.get("unique_id")
    if unique_id is not None and not isinstance(unique_id, str):
        raise invalid("'unique_id' must be a string.", at + "/unique_id")
    value = attrs.get("value")
    return {"metric_name": name, "properties": props, "moment": moment, "unique_id": unique_id,
            "backfill": bool(attrs.get("backfill", backfill) or False),
            "value": value if isinstance(value, int | float) else None}


# ---- resources ---------------------------------------------------------------------------
def rel_links(base: str, kind: str, rid: str, name: str) -> dict[str, str]:
    return {"self": f"{base}api/{kind}/{rid}/relationships/{name}/",
            "related": f"{base}api/{kind}/{rid}/{name}/"}


def subscriptions(p: Profile) -> dict[str, Any]:
    """`attributes.subscriptions` as the spec's `Subscriptions` schema names it."""
    def sms(kind: str, consent: str, at: str | None) -> dict[str, Any]:
        return {f"can_receive_sms_{kind}": consent == "SUBSCRIBED", "consent": consent,
                "consent_timestamp": at, "method": None, "method_detail": "",
                "last_updated": at}
    return {
        "email": {"marketing": {"can_receive_email_marketing": False,
                                "consent": "NEVER_SUBSCRIBED", "consent_timestamp": None,
                                "last_updated": None, "method": None, "method_detail": "",
                                "custom_method_detail": None, "double_optin": None,
                                "suppression": [], "list_suppressions": []}},
        "sms": {"marketing": sms("marketing", p.sms_marketing, p.marketing_consent_at),
                "transactional": sms("transactional", p.sms_transactional,
                                     p.transactional_consent_at)},
        # S9: the spec's WhatsappChannel [doc]
        "whatsapp": {kind: {"consent": consent, "can_receive": consent == "SUBSCRIBED",
                            "consent_timestamp": None, "last_updated": None,
                            "created_timestamp": None, "metadata": None, "valid_until": None,
                            "phone_number": p.phone_number}
                     for kind, consent in p.whatsapp.items()},
    }


def profile(p: Profile, base: str, with_subscriptions: bool,
            conversation: Conversation | None = None,
            include_conversations: bool = False) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "email": p.email, "phone_number": p.phone_number, "external_id": p.external_id,
        "first_name": p.first_name, "last_name": p.last_name, "organization": None,
        "locale": None, "title": None, "image": None, "created": p.created,
        "updated": p.updated, "last_event_date": None,
        "location": {"address1": None, "address2": None, "city": None, "country": None,
                     "latitude": None, "longitude": None, "region": None, "zip": None,
                     "timezone": None, "ip": None},
        "properties": p.properties}
    if with_subscriptions:
        attrs["subscriptions"] = subscriptions(p)
    rels: dict[str, Any] = {name: {"links": rel_links(base, "profiles", p.id, name)}
                            for name in ("lists", "segments", "push-tokens", "conversations")}
    if include_conversations:
        rels["conversations"]["data"] = ([{"type": "conversation", "id": conversation.id}]
                                         if conversation else [])
    return {"type": "profile", "id": p.id, "attributes": attrs, "relationships": rels,
            "links": {"self": f"{base}api/profiles/{p.id}/"}}


def conversation(c: Conversation, base: str) -> dict[str, Any]:
    return {"type": "conversation", "id": c.id, "attributes": {"channel": c.channel},
            "relationships": {"profile": {
                "data": {"type": "profile", "id": c.profile_id},
                "links": rel_links(base, "conversations", c.id, "profile")}},
            "links": {"self": f"{base}api/conversations/{c.id}/"}}


def event(e: Event, base: str) -> dict[str, Any]:
    props = dict(e.properties)
    props.setdefault("$event_id", e.unique_id)   # Klaviyo echoes unique_id this way [seen]
    if e.value is not None:
        props.setdefault("$value", e.value)
    return {"type": "event", "id": e.id,
            "attributes": {"timestamp": e.timestamp, "event_properties": props,
                           "datetime": e.datetime, "uuid": e.uuid},
            "relationships": {
                "profile": {"data": {"type": "profile", "id": e.profile_id},
                            "links": rel_links(base, "events", e.id, "profile")},
                "metric": {"data": {"type": "metric", "id": e.metric_id},
                           "links": rel_links(base, "events", e.id, "metric")}},
            "links": {"self": f"{base}api/events/{e.id}/"}}


def metric(name: str, base: str) -> dict[str, Any]:
    mid = metric_id(name)
    return {"type": "metric", "id": mid,
            "attributes": {"name": name, "created": METRICS_SINCE, "updated": METRICS_SINCE,
                           "integration": {"object": "integration", "id": "0rG4eQ",
                                           "name": "Klaviyo", "category": "Internal"}},
            "links": {"self": f"{base}api/metrics/{mid}/"}}


def account(base: str, seeded: SeedAccount = ACME) -> dict[str, Any]:
    """The account document; the first account's is as it always was (Acme)."""
    domain = seeded.organization.lower().replace(" ", "-") + ".test"
    return {"type": "account", "id": seeded.account_id,
            "attributes": {
                "test_account": True,
                "contact_information": {
                    "default_sender_name": seeded.organization,
                    "default_sender_email": f"hi@{domain}",
                    "website_url": f"https://{domain}", "organization_name": seeded.organization,
                    "street_address": {"address1": "1 Sandbox Way", "address2": None,
                                       "city": "Boston", "region": "MA", "country": "US",
                                       "zip": "02110"}},
                "industry": "Retail", "timezone": "UTC", "preferred_currency": "USD",
                "public_api_key": seeded.account_id, "locale": "en-US"},
            "links": {"self": f"{base}api/accounts/{seeded.account_id}/"}}


# ---- filters -----------------------------------------------------------------------------
_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<punct>[(),\[\]])'
                    r'|(?P<word>[A-Za-z0-9_.$:+\-]+))')


def parse_filter(text: str) -> list[tuple[str, str, Any]]:
    """`equals(phone_number,"+1555...")`, `and(a,b)` or `a,b` → [(operator, field, value)].

    Supports Klaviyo's operators with a field and one value (string, list, number, date or
    bare word). Anything malformed raises `invalid(...)` naming the `filter` parameter.
    """
    return _FilterParser(text).conditions()


class _FilterParser:
    """Recursive descent over `_tokens(text)`, one method per piece of the filter grammar, all
    reading from `pos`. Every dead end raises `_bad_filter(text)`: Klaviyo names no position."""

    def __init__(self, text: str) -> None:
        self.text, self.tokens, self.pos = text, _tokens(text), 0

    def conditions(self) -> list[tuple[str, str, Any]]:
        """The whole filter: expressions separated by commas, and nothing after them."""
        out = self._expressions()
        if self.pos != len(self.tokens):
            raise _bad_filter(self.text)
        return out

    def _at(self, kind: str, tok: str) -> bool:
        return self.tokens[self.pos:self.pos + 1] == [(kind, tok)]

    def _expect(self, tok: str) -> None:
        if not self._at("punct", tok):
            raise _bad_filter(self.text)
        self.pos += 1

    def _word(self) -> str:
        if self.pos >= len(self.tokens) or self.tokens[self.pos][0] != "word":
            raise _bad_filter(self.text)
        self.pos += 1
        return self.tokens[self.pos - 1][1]

    def _expressions(self) -> list[tuple[str, str, Any]]:
        """`a,b,...`: the top level and the inside of `and(...)` are the same list [doc]."""
        out = self._expression()
        while self._at("punct", ","):
            self.pos += 1
            out += self._expression()
        return out

    def _expression(self) -> list[tuple[str, str, Any]]:
        """`and(...)`, flattened, or `operator(field,value)`."""
        op = self._word()
        self._expect("(")
        if op == "and":
            out = self._expressions()
            self._expect(")")
            return out
        field = self._word()
        self._expect(",")
        v = self._value()
        self._expect(")")
        return [(op, field, v)]

    def _value(self) -> Any:
        if self.pos >= len(self.tokens):
            raise _bad_filter(self.text)
        kind, tok = self.tokens[self.pos]
        self.pos += 1
        if kind == "str":
            return re.sub(r"\\(.)", r"\1", tok[1:-1])
        if (kind, tok) == ("punct", "["):
            return self._list_rest()
        if kind == "word":
            return tok
        raise _bad_filter(self.text)

    def _list_rest(self) -> list[Any]:
        """The values after `[` up to `]`; a comma after a value is skipped when there is one."""
        items = []
        while not self._at("punct", "]"):
            items.append(self._value())
            if self._at("punct", ","):
                self.pos += 1
        self._expect("]")
        return items


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _bad_filter(text)
        kind = m.lastgroup or "word"
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _bad_filter(text: str) -> ApiError:
    return invalid(f"Invalid filter provided: {text!r}.", parameter="filter")


def check_allowed(conditions: list[tuple[str, str, Any]],
                  allowed: dict[str, set[str]]) -> None:
    for op, field, _ in conditions:
        if op not in allowed.get(field, set()):
            raise invalid(f"'{op}' operator for filter on field '{field}' is not supported.",
                          parameter="filter")


_COMPARE = {"greater-or-equal": lambda a, b: a >= b, "greater-than": lambda a, b: a > b,
            "less-or-equal": lambda a, b: a <= b, "less-than": lambda a, b: a < b}


def matches(item_value: Any, op: str, value: Any) -> bool:
    if op == "equals":
        return bool(item_value == value)
    if op == "any":
        return isinstance(value, list) and item_value in value
    if op in _COMPARE:
        return bool(_COMPARE[op](_comparable(item_value), _comparable(value)))
    return False


def _comparable(value: Any) -> float:
    """A date (ISO 8601; `Z` or an offset; no zone = UTC) or a number, as epoch seconds."""
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as e:
        raise invalid(f"Invalid date in filter: {value!r}.", parameter="filter") from e
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# ---- pagination --------------------------------------------------------------------------
def page(items: list[Any], cursor: str | None, size: int, self_url: str,
         next_url: Any) -> tuple[list[Any], dict[str, str]]:
    """Slice `items` at an opaque cursor; `next_url(cursor)` builds the next page's URL."""
    start = 0
    if cursor:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode())
        except (ValueError, UnicodeDecodeError) as e:
            raise invalid("Invalid page cursor.", parameter="page[cursor]") from e
    chunk = items[start:start + size]
    links = {"self": self_url}
    if start + size < len(items):
        nxt = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        links["next"] = next_url(nxt)
    return chunk, links


def page_size(raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        size = -1
    if not 1 <= size <= maximum:
        raise invalid(f"page[size] must be an integer between 1 and {maximum}.",
                      parameter="page[size]")
    return size
