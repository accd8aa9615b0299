"""Klaviyo's Webhooks API (system webhooks managed by API), as the OpenAPI file of revision
2026-07-15 documents it: `GET|POST /api/webhooks`, `GET|PATCH|DELETE /api/webhooks/{id}`,
`GET /api/webhook-topics[/{id}]`. `zkbridge provision --brand` makes each brand's webhook here.

The webhooks are only kept, per account (the API key picks it, accounts.py): the sandbox's own
deliveries still go where its config says (webhooks.py), whatever is made here.
What a client must get right, kept from the spec [doc]:
- a webhook's topics are its `webhook-topics` relationship (their ids, e.g.
  `event:klaviyo.sent_sms`); `include=webhook-topics` adds the topic resources and the
  relationship's `data`, which is otherwise links only (as `include` does on other resources);
- `secret_key` is written, never shown; `endpoint_url` is shown "truncated for security": to its
  origin, as the spec's example (`https://www.example.com`) [doc example]. It must be https;
- create: `name`, `endpoint_url`, `secret_key` and at least one topic, 201 with the webhook
  (enabled); PATCH: `type`, `id` (the URL's, else 409 as JSON:API says [assumed]) and
  `attributes`, a `null` attribute left as it is [assumed], topics sent replace them, 200;
  DELETE: 204, no body. Unknown ids: 404. Unknown attributes or topics: 400 [assumed];
- only Advanced KDP accounts and app partners may call it [doc]: an account whose setting
  `webhooks_api_enabled` is off is answered 403 `permission_denied` on every route [assumed shape];
- limits 1/s and 15/min [doc], one bucket for webhooks and one for topics (accounts.bucket).
Not imitated: API-key scopes (the sandbox's keys may do everything), sparse fieldsets (ignored).
The listing has no page parameters in the spec; the sandbox pages it by PAGE_SIZE anyway, with
an opaque `links.next` (clients follow the link) [assumed size].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, request

from sandbox.klaviyo import accounts as which
from sandbox.klaviyo import jsonapi as ja
from sandbox.klaviyo.jsonapi import ApiError, invalid, not_found
from sandbox.klaviyo.state import KlaviyoState, iso, new_profile_id

# The topics an account offers depend on its metrics [doc]; the sandbox's: SMS both ways [doc]
# and WhatsApp both ways, named like SMS's (as the bridge's payloads/whatsapp.py) [assumed].
TOPICS = ("event:klaviyo.sent_sms", "event:klaviyo.received_sms",
          "event:klaviyo.sent_whatsapp_message", "event:klaviyo.received_whatsapp_message")
WEBHOOKS_BUCKET, TOPICS_BUCKET = "klaviyo:webhooks", "klaviyo:webhook-topics"
LIMITS = {WEBHOOKS_BUCKET: (1, 15), TOPICS_BUCKET: (1, 15)}    # burst /s, steady /min [doc]
PAGE_SIZE = 10
WRITABLE = {"create": ("name", "description", "endpoint_url", "secret_key"),
            "update": ("name", "description", "endpoint_url", "secret_key", "enabled")}
Gated = Callable[[str, str], Callable[[Callable[..., Response]], Callable[..., Response]]]


@dataclass
class SystemWebhook:
    id: str
    name: str
    endpoint_url: str         # whole; the API shows its origin only
    secret_key: str           # never shown by the API
    topics: list[str]
    description: str | None = None
    enabled: bool = True
    created_at: str = field(default_factory=lambda: iso(datetime.now(UTC)))
    updated_at: str = ""      # the creation time until it is changed

    def __post_init__(self) -> None:
        self.updated_at = self.updated_at or self.created_at

    def as_admin_json(self) -> dict[str, Any]:
        """What `GET /_sandbox/klaviyo/webhooks` shows: everything, secret and whole URL too."""
        return {"id": self.id, "name": self.name, "description": self.description,
                "endpoint_url": self.endpoint_url, "secret_key": self.secret_key,
                "enabled": self.enabled, "topics": list(self.topics),
                "created_at": self.created_at, "updated_at": self.updated_at}


def add_routes(bp: Blueprint, sb: Any, gated: Gated) -> None:
    """The API routes, behind `gated` (api.py: counter, faults, limits, lock, ApiError)."""

    def account() -> KlaviyoState:
        state = which.current(sb)
        if not state.webhooks_api_enabled:
            raise ApiError(403, "permission_denied", "You do not have permission to perform "
                           "this action.", "Only Advanced KDP accounts and Klaviyo app partners "
                           "can manage webhooks with the Webhooks API.")
        return state

    @bp.get("/api/webhooks")
    @bp.get("/api/webhooks/")
    @gated("GET /api/webhooks", WEBHOOKS_BUCKET)
    def list_webhooks() -> Response:
        include, hooks = _include(), list(account().system_webhooks.values())
        chunk, links = ja.page(hooks, request.args.get("page[cursor]"), PAGE_SIZE, request.url,
                               _next_url)
        body: dict[str, Any] = {"data": [resource(h, include) for h in chunk], "links": links}
        if include:
            body["included"] = [topic(t) for t in TOPICS if any(t in h.topics for h in chunk)]
        return ja.document(body)

    @bp.post("/api/webhooks")
    @bp.post("/api/webhooks/")
    @gated("POST /api/webhooks", WEBHOOKS_BUCKET)
    def create_webhook() -> Response:
        state = account()
        data = ja.data(_body(), "webhook")
        attrs = _attributes(data, "create")
        hook = SystemWebhook(new_profile_id(), attrs["name"], attrs["endpoint_url"],
                             attrs["secret_key"], _topics(data, required=True) or [],
                             attrs.get("description"))
        state.system_webhooks[hook.id] = hook
        return ja.document({"data": resource(hook, True), "links": {"self": _self(hook)}},
                           201)

    @bp.get("/api/webhooks/<wid>")
    @bp.get("/api/webhooks/<wid>/")
    @gated("GET /api/webhooks/{id}", WEBHOOKS_BUCKET)
    def get_webhook(wid: str) -> Response:
        include, hook = _include(), _find(account(), wid)
        body: dict[str, Any] = {"data": resource(hook, include), "links": {"self": request.url}}
        if include:
            body["included"] = [topic(t) for t in hook.topics]
        return ja.document(body)

    @bp.patch("/api/webhooks/<wid>")
    @bp.patch("/api/webhooks/<wid>/")
    @gated("PATCH /api/webhooks/{id}", WEBHOOKS_BUCKET)
    def update_webhook(wid: str) -> Response:
        hook = _find(account(), wid)
        data = ja.data(_body(), "webhook")
        _check_id(data, wid)
        changes, topics = _attributes(data, "update"), _topics(data, required=False)
        for name, value in changes.items():
            setattr(hook, name, value)
        if topics is not None:
            hook.topics = topics
        hook.updated_at = iso(datetime.now(UTC))
        return ja.document({"data": resource(hook, True), "links": {"self": _self(hook)}})

    @bp.delete("/api/webhooks/<wid>")
    @bp.delete("/api/webhooks/<wid>/")
    @gated("DELETE /api/webhooks/{id}", WEBHOOKS_BUCKET)
    def delete_webhook(wid: str) -> Response:
        state = account()
        del state.system_webhooks[_find(state, wid).id]
        return ja.document(None, 204)

    @bp.get("/api/webhook-topics")
    @bp.get("/api/webhook-topics/")
    @gated("GET /api/webhook-topics", TOPICS_BUCKET)
    def list_topics() -> Response:
        account()
        return ja.document({"data": [topic(t) for t in TOPICS], "links": {"self": request.url}})

    @bp.get("/api/webhook-topics/<tid>")
    @bp.get("/api/webhook-topics/<tid>/")
    @gated("GET /api/webhook-topics/{id}", TOPICS_BUCKET)
    def get_topic(tid: str) -> Response:
        account()
        if tid not in TOPICS:
            raise not_found(f"A webhook topic with id {tid} does not exist.")
        return ja.document({"data": topic(tid), "links": {"self": request.url}})


# ---- shapes --------------------------------------------------------------------------------
def resource(hook: SystemWebhook, with_topics: bool) -> dict[str, Any]:
    """The spec's WebhookResponseObjectResource: no secret, the endpoint's origin only."""
    base = request.url_root
    related: dict[str, Any] = {"links": ja.rel_links(base, "webhooks", hook.id,
                                                     "webhook-topics")}
    if with_topics:
        related["data"] = [{"type": "webhook-topic", "id": t} for t in hook.topics]
    return {"type": "webhook", "id": hook.id,
            "attributes": {"name": hook.name, "description": hook.description,
                           "endpoint_url": truncated(hook.endpoint_url),
                           "enabled": hook.enabled, "created_at": hook.created_at,
                           "updated_at": hook.updated_at},
            "relationships": {"webhook-topics": related},
            "links": {"self": _self(hook)}}


def topic(topic_id: str) -> dict[str, Any]:
    return {"type": "webhook-topic", "id": topic_id,
            "links": {"self": f"{request.url_root}api/webhook-topics/{topic_id}/"}}


def truncated(url: str) -> str:
    """How Klaviyo shows an endpoint [doc: "truncated for security", example]: its origin."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# ---- requests ------------------------------------------------------------------------------
def _attributes(data: dict[str, Any], kind: str) -> dict[str, Any]:
    """The attributes to set, checked; `kind` "create" needs the spec's three required ones."""
    attrs = data.get("attributes")
    if not isinstance(attrs, dict):
        raise invalid("'attributes' is a required object.", "/data/attributes")
    for name in attrs:
        if name not in WRITABLE[kind]:
            raise invalid(f"'{name}' is not a valid field for the resource 'webhook'.",
                          f"/data/attributes/{name}")
    given = {k: v for k, v in attrs.items() if v is not None or k == "description"}
    for name in ("name", "endpoint_url", "secret_key"):
        at = f"/data/attributes/{name}"
        if name not in given:
            if kind == "create":
                raise invalid(f"'{name}' is a required field for the resource 'webhook'.", at)
        elif not isinstance(given[name], str) or not given[name].strip():
            raise invalid(f"'{name}' must be a non-empty string.", at)
    if "endpoint_url" in given and not _https(given["endpoint_url"]):
        raise invalid("'endpoint_url' must be an https URL.", "/data/attributes/endpoint_url")
    if not isinstance(given.get("description", ""), str | None):
        raise invalid("'description' must be a string.", "/data/attributes/description")
    if not isinstance(given.get("enabled", True), bool):
        raise invalid("'enabled' must be a boolean.", "/data/attributes/enabled")
    return given


def _topics(data: dict[str, Any], required: bool) -> list[str] | None:
    """The topic ids of the `webhook-topics` relationship (None: not sent), each known."""
    at = "/data/relationships/webhook-topics"
    relationships = data.get("relationships")
    related = relationships.get("webhook-topics") if isinstance(relationships, dict) else None
    if related is None:
        if required:
            raise invalid("'webhook-topics' is a required relationship.", at)
        return None
    items = related.get("data") if isinstance(related, dict) else None
    if not isinstance(items, list) or not items:
        raise invalid("At least one webhook topic is required.", at + "/data")
    for i, item in enumerate(items):
        if not isinstance(item, dict) or item.get("type") != "webhook-topic":
            raise invalid("Each topic must be a 'webhook-topic' with an id.", f"{at}/data/{i}")
        if item.get("id") not in TOPICS:
            raise invalid(f"Invalid webhook topic {item.get('id')!r}.", f"{at}/data/{i}/id")
    return list(dict.fromkeys(item["id"] for item in items))


def _check_id(data: dict[str, Any], wid: str) -> None:
    if not isinstance(data.get("id"), str):
        raise invalid("'id' is required.", "/data/id")
    if data["id"] != wid:
        raise ApiError(409, "conflict", "Conflict.",
                       f"The id {data['id']!r} does not match the URL's id {wid!r}.", "/data/id")


def _find(state: KlaviyoState, wid: str) -> SystemWebhook:
    hook = state.system_webhooks.get(wid)
    if hook is None:
        raise not_found(f"A webhook with id {wid} does not exist.")
    return hook


def _include() -> bool:
    """Whether `include=webhook-topics` was asked; anything else there is refused [doc enum]."""
    asked = {v.strip() for v in request.args.get("include", "").split(",") if v.strip()}
    if asked - {"webhook-topics"}:
        raise invalid(f"Invalid include: {', '.join(sorted(asked))}.", parameter="include")
    return bool(asked)


def _https(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname)


def _body() -> Any:
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise ApiError(400, "parse_error", "Malformed request.", "JSON parse error.")
    return body


def _self(hook: SystemWebhook) -> str:
    return f"{request.url_root}api/webhooks/{hook.id}/"


def _next_url(cursor: str) -> str:
    args = request.args.to_dict()
    args["page[cursor]"] = cursor
    return f"{request.base_url}?{urlencode(args)}"
