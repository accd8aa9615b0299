"""Business rules the bridge provisions in Zendesk: views (`/api/v2/views`) and automations
(`/api/v2/automations`).

They are kept in ZendeskState in their API shapes and checked the way Zendesk checks them, so a
provisioning bug shows in the sandbox rather than on a live account: a view needs an `all`
condition on status, type, group, assignee or requester [doc]; an automation needs an action, a
time-based condition and something that stops it firing again (an action on a condition's field,
a tag it adds that a condition excludes, or a time condition with `is`) [doc, check simplified].
They are never run: the sandbox has no hourly automation cycle, and Zendesk's own closing of
tickets is played through the desk (`/_sandbox/zendesk/tickets/<id>/status`, `silent`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request

from sandbox.zendesk import view_run
from sandbox.zendesk.model import (
    CUSTOM_FIELD_IDS,
    User,
    ZendeskError,
    iso,
    not_found,
    record_invalid,
)
from sandbox.zendesk.webhook_api import TRIGGER_SUBSCRIPTION

Answer = tuple[int, dict[str, Any] | None, dict[str, str]]
Fields = dict[str, Any]

VIEW_ANCHORS = ("status", "type", "group_id", "assignee_id", "requester_id")
TIME_FIELDS = ("NEW", "OPEN", "PENDING", "HOLD", "SOLVED", "CLOSED", "assigned_at", "updated_at",
               "requester_updated_at", "assignee_updated_at", "due_date", "until_due_date")
TAG_ACTIONS = ("current_tags", "set_tags", "remove_tags")
COLUMNS = {"nice_id": "ID", "subject": "Subject", "requester": "Requester", "created": "Requested",
           "updated": "Updated", "status": "Status", "priority": "Priority", "type": "Type",
           "assignee": "Assignee", "group": "Group"}
DEFAULT_COLUMNS = ["status", "subject", "requester", "created"]


def _base(message: str) -> ZendeskError:
    return record_invalid("base", message)


def _rule_list(raw: Any, what: str, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Conditions `{field, operator, value}` or actions `{field, value}`, as sent."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(
            isinstance(c, dict) and all(isinstance(c.get(k), str) and c[k] for k in keys)
            for c in raw):
        raise _base(f"Invalid {what}: each needs {', '.join(keys)}")
    return [{**{k: c[k] for k in keys}, "value": c.get("value")} for c in raw]


def _conditions(data: Fields, current: Fields) -> Fields:
    """`conditions: {all, any}` or, as the Views API takes them, top-level `all`/`any` [doc].
    A list sent replaces that list only [doc]."""
    out = {"all": list(current.get("all", [])), "any": list(current.get("any", []))}
    if "conditions" in data and not isinstance(data["conditions"], dict):
        raise _base("Invalid conditions: expected {all, any}")
    for source in (data.get("conditions") or {}, data):
        for key in ("all", "any"):
            if key in source:
                out[key] = _rule_list(source[key], "conditions", ("field", "operator"))
    return out


def _common(data: Fields, current: Fields, position: int) -> Fields:
    title = data.get("title", current.get("title"))
    if not isinstance(title, str) or not title.strip():
        raise record_invalid("title", "Title: cannot be blank")
    active = data.get("active", current.get("active", True))
    position = data.get("position", current.get("position", position))
    if not isinstance(position, int) or isinstance(position, bool):
        raise record_invalid("position", "Position: must be an integer")
    return {"title": title, "raw_title": title, "active": bool(active), "position": position,
            "default": False, "conditions": _conditions(data, current.get("conditions", {}))}


def _column(column: Any) -> dict[str, Any]:
    cid = column.get("id") if isinstance(column, dict) else column
    field = CUSTOM_FIELD_IDS.get(cid) if isinstance(cid, int) else None
    title = field.title if field else COLUMNS.get(str(cid), str(cid).replace("_", " ").title())
    return {"id": cid, "title": title}


def build_view(state: Any, data: Fields, current: Fields) -> Fields:
    out = _common(data, current, len(state.views) + 1)
    if not any(c["field"] in VIEW_ANCHORS for c in out["conditions"]["all"]):
        raise _base("View must test at least one of status, type, group_id, assignee_id or "
                    "requester_id in its 'all' conditions")
    raw = data.get("output", data.get("execution"))  # requests say output, answers execution
    if raw is not None and not isinstance(raw, dict):
        raise _base("Invalid output: expected an object")
    old = current.get("execution", {})
    raw = raw or {}
    columns = [_column(c) for c in raw.get("columns") or old.get("columns") or DEFAULT_COLUMNS]
    execution = {k: raw.get(k, old.get(k, default)) for k, default in (
        ("group_by", "status"), ("group_order", "asc"), ("sort_by", "nice_id"),
        ("sort_order", "desc"))}
    execution |= {"columns": columns, "fields": columns,
                  "custom_fields": [c for c in columns if isinstance(c["id"], int)]}
    return {**out, "description": data.get("description", current.get("description")),
            "restriction": data.get("restriction", current.get("restriction")),
            "execution": execution}


def build_automation(state: Any, data: Fields, current: Fields) -> Fields:
    out = _common(data, current, len(state.automations) + 1)
    actions = _rule_list(data["actions"], "actions", ("field",)) if "actions" in data \
        else current.get("actions", [])
    if not actions:
        raise _base("Automation must have at least one action")
    all_, any_ = out["conditions"]["all"], out["conditions"]["any"]
    timed = [c for c in all_ if c["field"] in TIME_FIELDS or c["field"].startswith("hours_")]
    if not timed:
        raise _base("Automation must have a time-based condition in its 'all' conditions")
    fields = {c["field"] for c in all_ + any_}
    acted = {a["field"] for a in actions}
    excluded_tags = any(c["field"] == "current_tags" and c["operator"] == "not_includes"
                        for c in all_)
    if not (fields & acted or any(c["operator"] == "is" for c in timed)
            or (excluded_tags and acted & set(TAG_ACTIONS))):
        raise _base("Automation must contain an action that nullifies a condition")
    for a in actions:
        if a["field"] == "notification_webhook":
            target = a["value"][0] if isinstance(a["value"], list) and a["value"] else None
            hook = state.webhooks.get(target)
            if hook is None or TRIGGER_SUBSCRIPTION not in hook.subscriptions:
                raise _base(f"Webhook {target} does not exist or is not connectable to "
                            f"triggers and automations ('{TRIGGER_SUBSCRIPTION}')")
    return {**out, "actions": actions}


class _RuleApi:
    """list / create / show / update / delete for one kind (view or automation) in Zendesk's
    classic shapes. The bound methods are the route handlers `api._api` calls under `sb.lock`;
    a class rather than closures so each handler reads on its own."""

    def __init__(self, kind: str, store: str,
                 build: Callable[[Any, Fields, Fields], Fields]) -> None:
        self.kind, self.store, self.build = kind, store, build
        self.plural, self.path = f"{kind}s", f"/api/v2/{kind}s"

    def routes(self) -> list[tuple[str, str, Callable[..., Answer]]]:
        return [("GET", self.path, self.listing), ("POST", self.path, self.create),
                ("GET", self.path + "/{id}", self.show), ("PUT", self.path + "/{id}", self.update),
                ("DELETE", self.path + "/{id}", self.delete)]

    def _payload(self) -> Fields:
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not isinstance(data.get(self.kind), dict):
            raise ZendeskError(400, {"error": "InvalidParameter",
                                     "description": f"expected a JSON object with '{self.kind}'"})
        return data[self.kind]

    def _records(self, sb: Any) -> dict[int, Fields]:
        records: dict[int, Fields] = getattr(sb.zendesk, self.store)
        return records

    def _find(self, sb: Any, obj_id: int) -> Fields:
        found = self._records(sb).get(obj_id)
        if found is None:
            raise not_found()
        return found

    def listing(self, sb: Any, actor: User) -> Answer:
        items = list(self._records(sb).values())
        return 200, {self.plural: items, "next_page": None, "previous_page": None,
                     "count": len(items)}, {}

    def create(self, sb: Any, actor: User) -> Answer:
        state = sb.zendesk
        fields, t = self.build(state, self._payload(), {}), iso(state.now())
        obj_id = state.new_id(self.kind)
        record = {"id": obj_id, "url": f"{request.host_url}api/v2/{self.plural}/{obj_id}.json",
                  **fields, "created_at": t, "updated_at": t}
        self._records(sb)[obj_id] = record
        return 201, {self.kind: record}, {"Location": record["url"]}

    def show(self, sb: Any, actor: User, obj_id: int) -> Answer:
        return 200, {self.kind: self._find(sb, obj_id)}, {}

    def update(self, sb: Any, actor: User, obj_id: int) -> Answer:
        record = self._find(sb, obj_id)
        record.update(self.build(sb.zendesk, self._payload(), record),
                      updated_at=iso(sb.zendesk.now()))
        return 200, {self.kind: record}, {}

    def delete(self, sb: Any, actor: User, obj_id: int) -> Answer:
        del self._records(sb)[self._find(sb, obj_id)["id"]]
        return 204, None, {}


ROUTES = _RuleApi("view", "views", build_view).routes() + \
    _RuleApi("automation", "automations", build_automation).routes() + view_run.ROUTES
