"""Zendesk's Webhooks API (`/api/v2/webhooks`): the webhooks the bridge provisions for itself.

It is a newer API than tickets and differs in ways a client must get right, so the stand-in keeps
them: string (ULID-like) ids, no `.json` suffix [seen], 204 with no body for PUT/PATCH/DELETE,
PATCH as a JSON merge patch, errors as `{"errors": [{code, title, detail}]}` [assumed codes], and
the signing secret only through its own endpoint. A webhook subscribed to `zen:event-type:...`
events becomes a delivery target (`webhooks.targets`), signed with ITS secret.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import request

from sandbox.zendesk.model import User, ZendeskError, iso

Answer = tuple[int, dict[str, Any] | None, dict[str, str]]

EVENT_PREFIX = "zen:event-type:"
TRIGGER_SUBSCRIPTION = "conditional_ticket_events"  # connectable to triggers and automations
EVENT_TYPE = re.compile(r"^zen:event-type:[a-z_]+(\.[a-z_]+)+$")
AUTH_DATA = {"basic_auth": ("username", "password"), "bearer_token": ("token",),
             "api_key": ("name", "value")}
EDITABLE = ("name", "description", "endpoint", "http_method", "request_format", "status",
            "subscriptions", "authentication", "custom_headers")
DEFAULTS: dict[str, Any] = {"description": None, "subscriptions": [], "authentication": None,
                            "custom_headers": None}


@dataclass
class Webhook:
    id: str
    name: str
    endpoint: str
    http_method: str
    request_format: str
    status: str
    secret: str
    created_at: float
    created_by: int
    description: str | None = None
    subscriptions: list[str] = field(default_factory=list)
    authentication: dict[str, Any] | None = None   # with its credentials: never shown by the API
    custom_headers: dict[str, str] | None = None
    updated_at: float = 0.0
    updated_by: int = 0

    def fields(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in EDITABLE}

    def event_types(self) -> list[str]:
        return [s.removeprefix(EVENT_PREFIX) for s in self.subscriptions
                if s.startswith(EVENT_PREFIX)]

    def delivery_headers(self) -> dict[str, str]:
        """Custom headers, then the credentials Zendesk adds to every request [doc]."""
        out = dict(self.custom_headers or {})
        auth = self.authentication
        if auth and auth["type"] == "basic_auth":
            pair = f"{auth['data']['username']}:{auth['data']['password']}".encode()
            out["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        elif auth and auth["type"] == "bearer_token":
            out["Authorization"] = f"Bearer {auth['data']['token']}"
        elif auth and auth["type"] == "api_key":
            out[str(auth["data"]["name"])] = str(auth["data"]["value"])
        return out

    def as_json(self) -> dict[str, Any]:
        """The API shape: credentials and the secret are left out [assumed]."""
        out = {"id": self.id, "name": self.name, "description": self.description,
               "endpoint": self.endpoint, "http_method": self.http_method,
               "request_format": self.request_format, "status": self.status,
               "subscriptions": list(self.subscriptions), "custom_headers": self.custom_headers,
               "created_at": iso(self.created_at), "created_by": str(self.created_by),
               "updated_at": iso(self.updated_at), "updated_by": str(self.updated_by)}
        if self.authentication:
            out["authentication"] = {"type": self.authentication["type"],
                                     "add_position": self.authentication["add_position"]}
        return {k: v for k, v in out.items() if v is not None}


def _error(status: int, code: str, detail: str, pointer: str | None = None) -> ZendeskError:
    item: dict[str, Any] = {"code": code, "title": code, "detail": detail}
    if pointer:
        item["source"] = {"pointer": pointer}
    return ZendeskError(status, {"errors": [item]})


def _invalid(name: str, detail: str) -> ZendeskError:
    return _error(400, "InvalidValue", detail, f"/webhook/{name}")


def _checked(f: dict[str, Any]) -> dict[str, Any]:
    """Validate a full set of editable fields (after create/put/patch), as Zendesk does [doc].

    The checks run in Zendesk's order, so a webhook wrong in two ways is refused for the same
    field as on a live account; each step is a helper below.
    """
    _check_settings(f)
    subs = _checked_subscriptions(f)
    auth = f.get("authentication")
    if auth is not None:
        f["authentication"] = _checked_authentication(auth)
    headers = f.get("custom_headers")
    if headers is not None and (not isinstance(headers, dict) or len(headers) > 5 or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items())):
        raise _invalid("custom_headers", "custom_headers: at most 5 string headers")
    return {**f, "subscriptions": list(subs)}


def _check_settings(f: dict[str, Any]) -> None:
    """The required string fields, then the endpoint's scheme, then the enumerated values:
    what Zendesk refuses before it looks at subscriptions."""
    for name in ("name", "endpoint", "http_method", "request_format", "status"):
        if not isinstance(f.get(name), str) or not f[name].strip():
            raise _invalid(name, f"{name} is required")
    if not re.match(r"^https?://[^/\s]+", f["endpoint"]):
        raise _invalid("endpoint", "endpoint must be an http(s) URL")
    choices = {"http_method": ("GET", "POST", "PUT", "PATCH", "DELETE"),
               "request_format": ("json", "xml", "form_encoded"), "status": ("active", "inactive")}
    for name, allowed in choices.items():
        if f[name] not in allowed:
            raise _invalid(name, f"{name} must be one of {', '.join(allowed)}")


def _checked_subscriptions(f: dict[str, Any]) -> list[Any]:
    """Event types or the trigger subscription, never both; event webhooks POST json [doc].
    Kept apart because the bridge's provisioning depends on exactly these refusals."""
    subs = f.get("subscriptions") or []
    if not isinstance(subs, list) or not all(
            s == TRIGGER_SUBSCRIPTION or (isinstance(s, str) and EVENT_TYPE.match(s))
            for s in subs):
        raise _invalid("subscriptions", f"subscriptions: '{TRIGGER_SUBSCRIPTION}' or "
                                        f"'{EVENT_PREFIX}<type>' values")
    events = [s for s in subs if s != TRIGGER_SUBSCRIPTION]
    if events and TRIGGER_SUBSCRIPTION in subs:
        raise _invalid("subscriptions", "a webhook is subscribed to events or connected to "
                                        "triggers and automations, not both")
    if events and (f["http_method"], f["request_format"]) != ("POST", "json"):
        raise _invalid("http_method", "webhooks subscribed to events must use POST and json")
    return subs


def _checked_authentication(auth: Any) -> dict[str, Any]:
    """The stored form of `authentication`: one of the three types with its data keys, sent in
    a header (Zendesk's only position) [doc]."""
    keys = AUTH_DATA.get(str(auth.get("type"))) if isinstance(auth, dict) else None
    data = auth.get("data") if isinstance(auth, dict) else None
    if keys is None or not isinstance(data, dict) or not all(
            isinstance(data.get(k), str) and data[k] for k in keys):
        raise _invalid("authentication", "authentication: type basic_auth {username, "
                                         "password}, bearer_token {token} or api_key "
                                         "{name, value} in data")
    if auth.get("add_position", "header") != "header":
        raise _invalid("authentication", "add_position must be header")
    return {"type": auth["type"], "add_position": "header", "data": dict(data)}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


# --- handlers (called under sb.lock by api._api) -----------------------------------------
def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("webhook"), dict):
        raise _error(400, "InvalidValue", "expected a JSON object with 'webhook'")
    return data["webhook"]


def _find(sb: Any, obj_id: str) -> Webhook:
    hook = sb.zendesk.webhooks.get(obj_id)
    if hook is None:
        raise _error(404, "RecordNotFound", f"webhook {obj_id} not found")
    return hook


def _admin_only(actor: User) -> None:
    if actor.role != "admin":  # webhooks are an admin setting [doc]
        raise _error(403, "Forbidden", "you do not have access to this page")


def list_webhooks(sb: Any, actor: User) -> Answer:
    """`filter[name_contains]`, `filter[status]`, `sort`; one page, `page[size]` ≤ 100."""
    _admin_only(actor)
    name, status = request.args.get("filter[name_contains]"), request.args.get("filter[status]")
    hooks = [h for h in sb.zendesk.webhooks.values()
             if (not name or name.lower() in h.name.lower())
             and (not status or h.status == status)]
    sort = request.args.get("sort", "").lstrip("-")
    if sort in ("name", "status"):
        hooks.sort(key=lambda h: getattr(h, sort), reverse=request.args["sort"].startswith("-"))
    return 200, {"webhooks": [h.as_json() for h in hooks],
                 "meta": {"has_more": False, "after_cursor": None, "before_cursor": None},
                 "links": {"next": None, "prev": None}}, {}


def create_webhook(sb: Any, actor: User) -> Answer:
    """201 with the webhook; the secret may be given as `signing_secret.secret` [doc]."""
    _admin_only(actor)
    data, state = _body(), sb.zendesk
    f = _checked({**DEFAULTS, **{k: data[k] for k in EDITABLE if k in data}})
    given = data.get("signing_secret")
    secret = given.get("secret") if isinstance(given, dict) else None
    t = state.now()
    hook = Webhook(id=f"01JSANDBOXWEBHOOK{state.new_id('webhook'):09d}",
                   secret=str(secret) if secret else secrets.token_urlsafe(32), created_at=t,
                   created_by=actor.id, updated_at=t, updated_by=actor.id, **f)
    state.webhooks[hook.id] = hook
    return 201, {"webhook": hook.as_json()}, {
        "Location": f"{request.host_url}api/v2/webhooks/{hook.id}"}


def show_webhook(sb: Any, actor: User, obj_id: str) -> Answer:
    _admin_only(actor)
    return 200, {"webhook": _find(sb, obj_id).as_json()}, {}


def _update(sb: Any, actor: User, obj_id: str,
            combine: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]) -> Answer:
    _admin_only(actor)
    hook = _find(sb, obj_id)
    f = _checked(combine(hook.fields(), {k: v for k, v in _body().items() if k in EDITABLE}))
    for name, value in f.items():
        setattr(hook, name, value)
    hook.updated_at, hook.updated_by = sb.zendesk.now(), actor.id
    return 204, None, {}


def put_webhook(sb: Any, actor: User, obj_id: str) -> Answer:
    """A full replacement: fields left out go back to their defaults [doc]."""
    return _update(sb, actor, obj_id, lambda _old, new: {**DEFAULTS, **new})


def patch_webhook(sb: Any, actor: User, obj_id: str) -> Answer:
    """A JSON merge patch over the stored webhook (credentials included) [doc]."""
    return _update(sb, actor, obj_id, lambda old, new: {**DEFAULTS, **merge_patch(old, new)})


def delete_webhook(sb: Any, actor: User, obj_id: str) -> Answer:
    _admin_only(actor)
    del sb.zendesk.webhooks[_find(sb, obj_id).id]
    return 204, None, {}


def show_secret(sb: Any, actor: User, obj_id: str) -> Answer:
    _admin_only(actor)
    return 200, {"signing_secret": {"algorithm": "SHA256",
                                    "secret": _find(sb, obj_id).secret}}, {}


def reset_secret(sb: Any, actor: User, obj_id: str) -> Answer:
    """A new secret at once: deliveries and retries from now on are signed with it."""
    _admin_only(actor)
    hook = _find(sb, obj_id)
    hook.secret = secrets.token_urlsafe(32)
    return 201, {"signing_secret": {"algorithm": "SHA256", "secret": hook.secret}}, {}


ROUTES: list[tuple[str, str, Callable[..., Answer]]] = [
    ("GET", "/api/v2/webhooks", list_webhooks),
    ("POST", "/api/v2/webhooks", create_webhook),
    ("GET", "/api/v2/webhooks/{id}", show_webhook),
    ("PUT", "/api/v2/webhooks/{id}", put_webhook),
    ("PATCH", "/api/v2/webhooks/{id}", patch_webhook),
    ("DELETE", "/api/v2/webhooks/{id}", delete_webhook),
    ("GET", "/api/v2/webhooks/{id}/signing_secret", show_secret),
    ("POST", "/api/v2/webhooks/{id}/signing_secret", reset_secret),
]


def admin_json(hook: Webhook) -> dict[str, Any]:
    """For `/_sandbox/zendesk/webhooks`: everything, the secret and credentials included."""
    return {**hook.as_json(), "signing_secret": {"algorithm": "SHA256", "secret": hook.secret},
            "authentication": hook.authentication}
