"""The Klaviyo half of the sandbox: the REST API the bridge calls, under `/api/...`.

Each route authenticates (`Authorization: Klaviyo-API-Key ...` and a `revision` header, checked
before anything else), passes `sb.gate` (call counter, injected faults, fixed-window rate limits
per endpoint, as Klaviyo publishes them), then acts on `KlaviyoState` and answers in Klaviyo's
JSON:API shapes (`jsonapi`). Customer texting and inspection routes for tests and the
UI are in `admin`; outgoing system webhooks in `webhooks`; the Webhooks API that manages them
(kept, never sent to) in `webhook_api`.
"""

from __future__ import annotations

import functools
import math
import random
import re
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import date
from typing import Any, cast
from urllib.parse import urlencode

from flask import Blueprint, Response, g, request
from werkzeug.local import LocalProxy

from sandbox import seed
from sandbox.common import RateLimiter, Window
from sandbox.klaviyo import accounts as which
from sandbox.klaviyo import admin, webhook_api, webhooks
from sandbox.klaviyo import jsonapi as ja
from sandbox.klaviyo.jsonapi import ApiError, invalid, not_found
from sandbox.klaviyo.state import (
    RECEIVED_WHATSAPP,
    WHATSAPP,
    WINDOW_SECONDS,
    KlaviyoState,
    Profile,
    ProfileError,
)

# Published limits [doc], except conversations-list (assumed like conversation-messages) and
# GET /api/events, given its own bucket so tests reading events do not spend the bridge's quota.
PRODUCTION_LIMITS = {
    "klaviyo:events": (350, 3500), "klaviyo:get-events": (350, 3500),
    "klaviyo:bulk-events": (10, 150), "klaviyo:profiles": (75, 750),
    "klaviyo:conversation-messages": (3, 60), "klaviyo:conversations": (3, 60),
    "klaviyo:accounts": (1, 15), "klaviyo:metrics": (10, 150),
    **webhook_api.LIMITS,       # the Webhooks API: webhooks, and their topics
}
MAX_BULK_EVENTS = 1000
MAX_BULK_BYTES = 5 * 1024 * 1024
REVISION = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(\.[A-Za-z0-9_-]+)?$")

__all__ = ["KlaviyoState", "install_default_limits", "make_blueprint"]


def install_default_limits(limiter: RateLimiter, production: bool) -> None:
    """Fixed windows of 1 s (burst) and 60 s (steady) per bucket; generous when not production.
    Each account has its own buckets (accounts.bucket: `@<name>` after the second's)."""
    suffixes = ("", *(f"@{a.name}" for a in seed.ACCOUNTS[1:]))
    for bucket, (burst, steady) in PRODUCTION_LIMITS.items():
        if not production:
            burst, steady = 10_000, 600_000
        for suffix in suffixes:
            limiter.set_limits(bucket + suffix, [Window(burst, 1), Window(steady, 60)])


def make_blueprint(sb: Any) -> Blueprint:
    bp = Blueprint("klaviyo", __name__)
    admin.add_routes(bp, sb)

    @bp.before_app_request
    def authenticate() -> Response | None:
        path = request.path
        if not path.startswith("/api/") or path.startswith("/api/v2/"):
            return None     # not Klaviyo: Zendesk lives under /api/v2/
        refused = _check_credentials([a.credentials()[0] for a in which.all_of(sb)])
        if refused is None:     # the key names the account (rule E7: one key per account)
            g.klaviyo_account = which.by_key(sb, _presented_key())
        return refused

    def gated(key: str, bucket: str) -> Callable[[View], View]:
        return functools.partial(_gated, sb, key, bucket)

    # the account of the call being served (the routes below read and change only it)
    state = cast(KlaviyoState, LocalProxy(lambda: which.current(sb)))
    webhook_api.add_routes(bp, sb, gated)     # /api/webhooks, /api/webhook-topics

    @bp.get("/api/accounts")
    @bp.get("/api/accounts/")
    @gated("GET /api/accounts", "klaviyo:accounts")
    def accounts() -> Response:
        return ja.document({"data": [ja.account(request.url_root, state.account)],
                            "links": {"self": request.url}})

    @bp.get("/api/profiles/<pid>")
    @bp.get("/api/profiles/<pid>/")
    @gated("GET /api/profiles/{id}", "klaviyo:profiles")
    def get_profile(pid: str) -> Response:
        p = state.profiles.get(pid)
        if p is None:
            raise not_found(f"A profile with id {pid} does not exist.")
        body = {"data": _profile(state, p), "links": {"self": request.url}}
        if "conversations" in _csv("include"):
            conv = state.conversation_of(p.id)
            body["included"] = [ja.conversation(conv, request.url_root)] if conv else []
        return ja.document(body)

    @bp.get("/api/profiles")
    @bp.get("/api/profiles/")
    @gated("GET /api/profiles", "klaviyo:profiles")
    def list_profiles() -> Response:
        found = _filtered(list(state.profiles.values()), PROFILE_FILTERS)
        size = ja.page_size(request.args.get("page[size]"), 20, 100)
        chunk, links = ja.page(found, request.args.get("page[cursor]"), size, request.url,
                               _next_url)
        body: dict[str, Any] = {"data": [_profile(state, p) for p in chunk], "links": links}
        if "conversations" in _csv("include"):
            convs = [state.conversation_of(p.id) for p in chunk]
            body["included"] = [ja.conversation(c, request.url_root) for c in convs if c]
        return ja.document(body)

    @bp.get("/api/profiles/<pid>/conversations")
    @bp.get("/api/profiles/<pid>/conversations/")
    @gated("GET /api/profiles/{id}/conversations", "klaviyo:conversations")
    def profile_conversations(pid: str) -> Response:
        _require_conversations(state)
        if pid not in state.profiles:
            raise not_found(f"A profile with id {pid} does not exist.")
        data = [ja.conversation(c, request.url_root) for c in state.conversations_of(pid)]
        return ja.document({"data": data, "links": {"self": request.url}})

    @bp.post("/api/conversation-messages")
    @bp.post("/api/conversation-messages/")
    @gated("POST /api/conversation-messages", "klaviyo:conversation-messages")
    def conversation_message() -> Response:
        _require_conversations(state)
        text, conversation_id = _message_request(ja.data(_body(), "conversation-message"))
        account = which.current(sb)
        with sb.lock:
            ev = _send_in_conversation(account, conversation_id, text)
            delay = account.record_delay_seconds
            if ev.metric_name == RECEIVED_WHATSAPP:
                pass      # the bridge subscribes to no WhatsApp receipt topic: none is sent
            elif delay:     # Klaviyo records the send late: its webhook leaves late too
                account.recorded_after[ev.id] = time.time() + delay
                threading.Timer(delay, webhooks.deliver,
                                args=(sb, [(webhooks.RECEIVED_SMS_TOPIC, ev)], account)).start()
            else:
                webhooks.deliver(sb, [(webhooks.RECEIVED_SMS_TOPIC, ev)], account)
        return ja.document(None, 202)

    @bp.post("/api/events")
    @bp.post("/api/events/")
    @gated("POST /api/events", "klaviyo:events")
    def create_event() -> Response:
        attrs = ja.data(_body(), "event").get("attributes")
        if not isinstance(attrs, dict):
            raise invalid("attributes are required.", "/data/attributes")
        profile_ref = (attrs.get("profile") or {}).get("data")
        if not isinstance(profile_ref, dict):
            raise invalid("A profile is required.", "/data/attributes/profile/data")
        event = ja.parse_event(attrs, "/data/attributes", attrs.get("backfill"))
        with sb.lock:
            _store(state, _resolve(state, profile_ref, "/data/attributes/profile/data"), event)
        return ja.document(None, 202)

    @bp.post("/api/event-bulk-create-jobs")
    @bp.post("/api/event-bulk-create-jobs/")
    @gated("POST /api/event-bulk-create-jobs", "klaviyo:bulk-events")
    def bulk_create_events() -> Response:
        if (request.content_length or 0) > MAX_BULK_BYTES:
            raise ApiError(413, "payload_too_large", "Payload too large.",
                           "The payload may not exceed 5MB.")
        parsed = _bulk_groups(ja.data(_body(), "event-bulk-create-job"))
        with sb.lock:
            profiles = [_resolve(state, ref, at + "/attributes/profile/data")
                        for ref, at, _ in parsed]
            for p, (_, _, evs) in zip(profiles, parsed, strict=True):
                for ev in evs:
                    _store(state, p, ev)
        return ja.document(None, 202)   # the spec defines no body for this 202

    @bp.get("/api/events")
    @bp.get("/api/events/")
    @gated("GET /api/events", "klaviyo:get-events")
    def list_events() -> Response:
        sort = request.args.get("sort", "datetime")
        if sort not in ("datetime", "-datetime", "timestamp", "-timestamp"):
            raise invalid(f"Invalid sort {sort!r}.", parameter="sort")
        now = time.time()
        events = _filtered([e for e in state.events_sorted(reverse=sort.startswith("-"),
                                                           profile_id=_profile_filter())
                            if state.recorded_after.get(e.id, 0) <= now], EVENT_FILTERS)
        size = ja.page_size(request.args.get("page[size]"), 200, 1000)
        chunk, links = ja.page(events, request.args.get("page[cursor]"), size, request.url,
                               _next_url)
        return ja.document({"data": [ja.event(e, request.url_root) for e in chunk],
                            "links": links})

    @bp.get("/api/metrics")
    @bp.get("/api/metrics/")
    @gated("GET /api/metrics", "klaviyo:metrics")
    def list_metrics() -> Response:
        if request.args.get("filter"):
            ja.check_allowed(ja.parse_filter(request.args["filter"]), METRIC_FILTERS)
        names = sorted({*SMS_METRICS, *state.metric_names()})
        chunk, links = ja.page(names, request.args.get("page[cursor]"), 200, request.url,
                               _next_url)
        return ja.document({"data": [ja.metric(n, request.url_root) for n in chunk],
                            "links": links})

    return bp


# ---- the gate and the handlers' logic -----------------------------------------------------
View = Callable[..., Response]
PROFILE_FILTERS = {f: {"equals", "any"} for f in ("id", "email", "phone_number", "external_id")}
EVENT_FILTERS = {"metric_id": {"equals"}, "profile_id": {"equals"},
                 **{f: {"greater-or-equal", "greater-than", "less-or-equal", "less-than"}
                    for f in ("datetime", "timestamp")}}
METRIC_FILTERS = {"integration.name": {"equals"}, "integration.category": {"equals"}}
SMS_METRICS = ("Received SMS", "Sent SMS")   # [assumed] an SMS account has both from the start
BulkGroup = tuple[dict[str, Any], str, list[dict[str, Any]]]


def _gated(sb: Any, key: str, bucket: str, view: View) -> View:
    """`view` behind `sb.gate` (counter, faults, one rate-limit bucket) and the state lock, with
    Klaviyo's rate-limit headers; an `ApiError` raised by the view becomes its answer."""
    @functools.wraps(view)
    def run(**kwargs: Any) -> Response:
        gate = sb.gate("klaviyo", key, [which.bucket(which.current(sb), bucket)])
        refused = _refusal(gate)
        if refused is not None:
            return refused
        try:
            with sb.lock:   # handlers are quick; webhooks leave through the outbox
                resp = view(**kwargs)
        except ApiError as e:
            resp = e.response()
        if gate.bucket:
            resp.headers["RateLimit-Limit"] = str(gate.limit)
            resp.headers["RateLimit-Remaining"] = str(gate.remaining)
        if sb.late_timeout(gate):
            resp = _refusal(replace(gate, kind="timeout"))
        return resp
    return run


def _profile_filter() -> str | None:
    """The profile an events read is narrowed to (`equals(profile_id,...)`), if any: only its
    events are looked at. A malformed filter is left for `_filtered` to refuse."""
    raw = request.args.get("filter")
    try:
        conditions = ja.parse_filter(raw) if raw else []
    except ApiError:
        return None
    return next((str(v) for op, f, v in conditions if (op, f) == ("equals", "profile_id")),
                None)


def _filtered(items: list[Any], allowed: dict[str, set[str]]) -> list[Any]:
    """`items` narrowed by the request's `filter` parameter; each list endpoint accepts only
    some fields and operators, and Klaviyo refuses the others rather than ignoring them."""
    raw = request.args.get("filter")
    if not raw:
        return items
    conditions = ja.parse_filter(raw)
    ja.check_allowed(conditions, allowed)
    return [x for x in items if all(ja.matches(getattr(x, f), op, v) for op, f, v in conditions)]


def _message_request(data: dict[str, Any]) -> tuple[str, str]:
    """(body, conversation id) of a conversation-message request, checked before the state is
    looked at: a malformed request is refused whatever the conversation."""
    text = (data.get("attributes") or {}).get("body")
    if not isinstance(text, str) or not text.strip():
        raise invalid("A non-empty message body is required.", "/data/attributes/body")
    ref = ((data.get("relationships") or {}).get("conversation") or {}).get("data") or {}
    if ref.get("type") != "conversation" or not isinstance(ref.get("id"), str):
        raise invalid("A conversation relationship is required.",
                      "/data/relationships/conversation/data")
    return text, ref["id"]


def _send_in_conversation(state: KlaviyoState, conversation_id: str, text: str) -> Any:
    """The brand's reply in an existing conversation, from its brand number (under the lock)."""
    conv = state.conversations.get(conversation_id)
    if conv is None:
        raise not_found(f"A conversation with id {conversation_id} does not exist.")
    p = state.profiles[conv.profile_id]
    if conv.channel == WHATSAPP:
        _check_whatsapp(p, conv)
        return state.brand_sends(p, conv.brand_number, text, "conversation", channel=WHATSAPP)
    if not p.can_receive_sms:   # [assumed] Klaviyo refuses to text a non-subscriber
        raise invalid(f"Profile {p.id} cannot receive SMS: it is not subscribed to "
                      "SMS marketing or transactional messages.",
                      "/data/relationships/conversation/data/id")
    return state.brand_sends(p, conv.brand_number, text, "conversation")


def _check_whatsapp(p: Any, conv: Any) -> None:
    """[assumed] Klaviyo refuses a WhatsApp message to a profile without WhatsApp consent, and
    a free-form one more than 24 hours after the customer's last message (Meta's window; its
    error 131047 "Re-engagement message") with this 400."""
    if not p.can_receive_whatsapp:
        raise invalid(f"Profile {p.id} cannot receive WhatsApp messages: it is not subscribed.",
                      "/data/relationships/conversation/data/id")
    if time.time() - conv.last_customer_at > WINDOW_SECONDS:
        raise ApiError(400, "whatsapp_outside_window", "Invalid input.",
                       "(#131047) Re-engagement message: more than 24 hours have passed since "
                       "the customer last replied; send an approved template instead.",
                       "/data/relationships/conversation/data/id")


def _bulk_groups(data: dict[str, Any]) -> list[BulkGroup]:
    """Every (profile reference, pointer, parsed events) of a bulk job, all checked before any
    is stored: Klaviyo takes or refuses a job whole."""
    attrs = data.get("attributes") or {}
    groups = (attrs.get("events-bulk-create") or {}).get("data")
    if not isinstance(groups, list):
        raise invalid("events-bulk-create.data must be a list.",
                      "/data/attributes/events-bulk-create/data")
    parsed = [_bulk_group(group, f"/data/attributes/events-bulk-create/data/{i}")
              for i, group in enumerate(groups)]
    total = sum(len(evs) for _, _, evs in parsed)
    if total > MAX_BULK_EVENTS:
        raise invalid(f"A bulk job accepts at most {MAX_BULK_EVENTS} events; got {total}.",
                      "/data/attributes/events-bulk-create/data")
    return parsed


def _bulk_group(group: Any, at: str) -> BulkGroup:
    gattrs = (group or {}).get("attributes") or {}
    ref = (gattrs.get("profile") or {}).get("data")
    events = (gattrs.get("events") or {}).get("data")
    if not isinstance(ref, dict) or not isinstance(events, list):
        raise invalid("Each entry needs a profile and events.", at + "/attributes")
    return ref, at, [ja.parse_event((e or {}).get("attributes") or {},
                                    f"{at}/attributes/events/data/{j}/attributes",
                                    gattrs.get("backfill"))
                     for j, e in enumerate(events)]


# ---- request helpers ---------------------------------------------------------------------
def _presented_key() -> str:
    return request.headers.get("Authorization", "").strip().partition(" ")[2].strip()


def _check_credentials(api_keys: Collection[str]) -> Response | None:
    auth = request.headers.get("Authorization", "").strip()
    scheme, _, key = auth.partition(" ")
    if not auth:
        return ApiError(401, "not_authenticated", "Authentication credentials were not provided.",
                        "Missing or invalid private key.").response()
    if scheme != "Klaviyo-API-Key" or key.strip() not in api_keys:
        return ApiError(401, "authentication_failed", "Incorrect authentication credentials.",
                        "Incorrect authentication credentials.").response()
    revision = request.headers.get("revision", "").strip()
    m = REVISION.match(revision)
    try:
        ok = m is not None and bool(date(int(m[1]), int(m[2]), int(m[3])))
    except ValueError:
        ok = False
    if not ok:
        detail = ("The 'revision' header is required." if not revision else
                  f"Invalid revision {revision!r}: use the format YYYY-MM-DD[.suffix].")
        return invalid(detail, parameter="revision").response()
    return None


def _refusal(gate: Any) -> Response | None:
    if gate.kind == "429":
        wait = max(1, math.ceil(gate.retry_after or 1))
        return ApiError(429, "throttled", "Request was throttled.",
                        f"Request was throttled. Expected available in {wait} seconds.",
                        pointer="/data/").response({"Retry-After": str(wait)})
    if gate.kind == "409":
        return ApiError(409, "conflict", "Conflict.",
                        "The request conflicts with a concurrent change; retry.").response()
    if gate.kind == "error":
        status = random.choice((500, 503))
        return ApiError(status, "error" if status == 500 else "service_unavailable",
                        "A server error occurred." if status == 500 else "Service unavailable.",
                        "Injected sandbox fault.").response()
    if gate.kind == "timeout":
        return ApiError(504, "gateway_timeout", "Gateway timeout.",
                        "The upstream service did not answer in time.").response()
    return None


def _body() -> Any:
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise ApiError(400, "parse_error", "Malformed request.", "JSON parse error.")
    return body


def _csv(name: str) -> set[str]:
    return {v.strip() for v in request.args.get(name, "").split(",") if v.strip()}


def _next_url(cursor: str) -> str:
    args = request.args.to_dict()
    args["page[cursor]"] = cursor
    return f"{request.base_url}?{urlencode(args)}"


def _profile(state: KlaviyoState, p: Profile) -> dict[str, Any]:
    include = "conversations" in _csv("include")
    return ja.profile(p, request.url_root, "subscriptions" in _csv("additional-fields[profile]"),
                      state.conversation_of(p.id) if include else None, include)


def _require_conversations(state: KlaviyoState) -> None:
    if not state.conversations_enabled:   # [assumed] shape of the not-enabled answer
        raise ApiError(403, "permission_denied", "You do not have permission to perform this "
                       "action.", "The Conversations API is not enabled for this account.")


def _resolve(state: KlaviyoState, ref: dict[str, Any], at: str) -> Profile:
    try:
        return state.resolve_profile(ref)
    except ProfileError as e:
        raise invalid(str(e), at) from e


def _store(state: KlaviyoState, p: Profile, event: dict[str, Any]) -> None:
    state.record_event(p, **event)   # None for a repeated unique_id: accepted, not stored
