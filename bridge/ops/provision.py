"""Provisioning: create or update in Zendesk what the bridge needs there, idempotently.

- the event-subscription webhook "zkbridge" (ticket.created, ticket.comment_added,
  ticket.status_changed, ticket.tags_changed → POST JSON to PUBLIC_URL/webhooks/zendesk), and
  its signing secret;
- optionally the "SMS tickets" view (tag sms, not closed);
- optionally the automation that closes solved SMS tickets after N hours.

Each object is found by its name or title first and changed only where it differs from what
the bridge wants, so running provisioning twice changes nothing the second time ("unchanged").
The desired shapes and the comparisons are pure functions; `provision` does the calls.

The signing secret: Zendesk makes it; we read it back and compare it (in constant time) with
ZENDESK_WEBHOOK_SECRET. It is NOT stored in Redis: credentials come only from the environment
or secret files (E5), and the receiver reads its secret from settings. When they differ the
caller shows the secret once and asks for ZENDESK_WEBHOOK_SECRET to be set (or writes it to a
file); when they match, nothing secret is shown.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

WEBHOOK_NAME = "zkbridge"
WEBHOOK_PATH = "/webhooks/zendesk"
SUBSCRIPTIONS = ("zen:event-type:ticket.created", "zen:event-type:ticket.comment_added",
                 "zen:event-type:ticket.status_changed",
                 "zen:event-type:ticket.tags_changed")     # releases held replies (A8, S10)
VIEW_TITLE = "SMS tickets"
AUTOMATION_TITLE = "Close solved SMS tickets after {hours} hours"
AUTOMATION_TITLE_RE = re.compile(r"^close solved sms tickets after \d+ hours?$", re.IGNORECASE)
SMS_TAG = "sms"
CONTEXT_FIELD_TITLE = "SMS context"


class ProvisioningApi(Protocol):
    """The Zendesk admin calls provisioning makes (adapters/zendesk_admin.py; a fake in tests)."""

    def webhooks(self, name_contains: str) -> list[dict[str, Any]]: ...
    def create_webhook(self, webhook: dict[str, Any]) -> dict[str, Any]: ...
    def patch_webhook(self, webhook_id: str, changes: dict[str, Any]) -> None: ...
    def webhook_signing_secret(self, webhook_id: str) -> str: ...
    def views(self) -> list[dict[str, Any]]: ...
    def create_view(self, view: dict[str, Any]) -> dict[str, Any]: ...
    def update_view(self, view_id: int, view: dict[str, Any]) -> dict[str, Any]: ...
    def automations(self) -> list[dict[str, Any]]: ...
    def create_automation(self, automation: dict[str, Any]) -> dict[str, Any]: ...
    def update_automation(self, automation_id: int,
                          automation: dict[str, Any]) -> dict[str, Any]: ...
    def ticket_fields(self) -> list[dict[str, Any]]: ...
    def create_ticket_field(self, ticket_field: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Outcome:
    """What provisioning did to one object: action is created, updated or unchanged."""

    what: str
    action: str
    id: str
    changed: tuple[str, ...] = ()
    note: str = ""

    def sentence(self) -> str:
        text = f"{self.what} (id {self.id}): {self.action}"
        if self.changed:
            text += f" ({', '.join(self.changed)})"
        return text + (f"; {self.note}" if self.note else "")


@dataclass(frozen=True)
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    secret: str = ""                # the webhook's signing secret; show only if not matching
    secret_matches: bool = False    # equal to ZENDESK_WEBHOOK_SECRET


# --- what the bridge wants (pure) -----------------------------------------------------------
def webhook_spec(public_url: str) -> dict[str, Any]:
    return {"name": WEBHOOK_NAME, "endpoint": public_url.rstrip("/") + WEBHOOK_PATH,
            "http_method": "POST", "request_format": "json", "status": "active",
            "subscriptions": list(SUBSCRIPTIONS),
            "description": "Zendesk-Klaviyo SMS bridge: ticket events (made by zkbridge "
                           "provision)"}


def view_spec() -> dict[str, Any]:
    """Not closed (status below closed) and tagged sms. Requests send `all`/`any` at the top
    level; answers nest them under `conditions` [doc: conditions reference]."""
    return {"title": VIEW_TITLE, "active": True,
            "all": [_cond("status", "less_than", "closed"),
                    _cond("current_tags", "includes", SMS_TAG)],
            "any": []}


VIEW_OUTPUT = {"columns": ["status", "subject", "requester", "updated"], "sort_by": "updated",
               "sort_order": "desc"}   # set on creation only: an admin's later layout is kept


def automation_spec(hours: int) -> dict[str, Any]:
    """Solved, tagged sms, and solved at least `hours` ago → closed.

    Zendesk counts hours since solved in whole hours and has no "at least" operator, so
    "≥ N" is `greater_than` N-1 [assumed: whole hours, as the conditions reference suggests].
    Setting the status to closed also stops the automation firing again (Zendesk requires an
    action that nullifies a condition)."""
    if hours < 1:
        raise ValueError("hours must be at least 1")
    return {"title": AUTOMATION_TITLE.format(hours=hours), "active": True,
            "all": [_cond("status", "is", "solved"),
                    _cond("current_tags", "includes", SMS_TAG),
                    _cond("SOLVED", "greater_than", str(hours - 1))],
            "any": [],
            "actions": [{"field": "status", "value": "closed"}]}


def webhook_changes(current: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """The fields of `desired` that the current webhook does not already have."""
    out = {}
    for key, want in desired.items():
        have = current.get(key)
        if key == "subscriptions":
            if sorted(have or []) != sorted(want):
                out[key] = want
        elif key == "description":
            continue        # ours by default, but an admin may reword it
        elif have != want:
            out[key] = want
    return out


def rule_changes(current: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    """Names of what differs between a view/automation as Zendesk shows it and what we want."""
    changed = []
    if current.get("title") != desired["title"]:
        changed.append("title")
    if bool(current.get("active", True)) != desired["active"]:
        changed.append("active")
    conditions = current.get("conditions") or {}
    for key in ("all", "any"):
        if _norm(conditions.get(key)) != _norm(desired[key]):
            changed.append(f"conditions.{key}")
    if "actions" in desired and _norm(current.get("actions")) != _norm(desired["actions"]):
        changed.append("actions")
    return changed


def secret_matches(secret: str, configured: str) -> bool:
    return bool(configured) and hmac.compare_digest(secret.encode(), configured.encode())


# --- doing it -------------------------------------------------------------------------------
def provision(api: ProvisioningApi, public_url: str, configured: str | tuple[str, ...], *,
              view: bool = False, close_after_hours: int | None = None,
              context_field: bool = False) -> Report:
    """Webhook always; the view, the automation and the context field when asked. Raises the
    client's errors."""
    hook, hook_id = ensure_webhook(api, public_url)
    secret = api.webhook_signing_secret(hook_id)
    outcomes = [hook]
    if view:
        outcomes.append(ensure_view(api))
    if context_field:
        outcomes.append(ensure_context_field(api))
    if close_after_hours is not None:
        outcomes.append(ensure_automation(api, close_after_hours))
    accepted = (configured,) if isinstance(configured, str) else configured
    return Report(outcomes, secret, any(secret_matches(secret, c) for c in accepted))


def ensure_webhook(api: ProvisioningApi, public_url: str) -> tuple[Outcome, str]:
    desired = webhook_spec(public_url)
    same_name = [w for w in api.webhooks(WEBHOOK_NAME) if w.get("name") == WEBHOOK_NAME]
    if not same_name:
        made = api.create_webhook(desired)
        return Outcome("webhook", "created", str(made["id"]),
                       note=f"sends ticket events to {desired['endpoint']}"), str(made["id"])
    current = same_name[0]
    note = (f"{len(same_name) - 1} other webhook(s) are also named {WEBHOOK_NAME!r}; delete "
            f"them in Admin Center (events would arrive twice, and be deduplicated)"
            if len(same_name) > 1 else "")
    changes = webhook_changes(current, desired)
    if changes:
        api.patch_webhook(str(current["id"]), changes)
    return Outcome("webhook", "updated" if changes else "unchanged", str(current["id"]),
                   tuple(changes), note), str(current["id"])


def ensure_view(api: ProvisioningApi) -> Outcome:
    desired = view_spec()
    found = [v for v in api.views() if v.get("title") == VIEW_TITLE]
    if not found:
        made = api.create_view({**desired, "output": VIEW_OUTPUT})
        return Outcome(f"view {VIEW_TITLE!r}", "created", str(made["id"]))
    return _update_rule(found[0], desired, f"view {VIEW_TITLE!r}", api.update_view)


def ensure_automation(api: ProvisioningApi, hours: int) -> Outcome:
    desired = automation_spec(hours)
    found = [a for a in api.automations() if AUTOMATION_TITLE_RE.match(a.get("title") or "")]
    what = f"automation {desired['title']!r}"
    if not found:
        made = api.create_automation(desired)
        return Outcome(what, "created", str(made["id"]))
    return _update_rule(found[0], desired, what, api.update_automation)


def ensure_context_field(api: ProvisioningApi) -> Outcome:
    """A9: the multi-line ticket field a new SMS ticket's context is written to (found by its
    title, else made); its id is what ZENDESK_CONTEXT_FIELD_ID must hold."""
    found = [f for f in api.ticket_fields() if f.get("title") == CONTEXT_FIELD_TITLE]
    if found:
        field_id, action = str(found[0]["id"]), "unchanged"
    else:
        made = api.create_ticket_field(context_field_spec())
        field_id, action = str(made["id"]), "created"
    return Outcome(f"ticket field {CONTEXT_FIELD_TITLE!r}", action, field_id,
                   note=f"set ZENDESK_CONTEXT_FIELD_ID={field_id}")


def context_field_spec() -> dict[str, Any]:
    return {"type": "textarea", "title": CONTEXT_FIELD_TITLE,
            "description": "What the customer last received by SMS from the brand, and their "
                           "consent, when they texted (written by zkbridge, A9)",
            "visible_in_portal": False, "editable_in_portal": False}


def _update_rule(current: dict[str, Any], desired: dict[str, Any], what: str,
                 update: Callable[[int, dict[str, Any]], dict[str, Any]]) -> Outcome:
    changed = rule_changes(current, desired)
    if changed:
        update(int(current["id"]), desired)
    return Outcome(what, "updated" if changed else "unchanged", str(current["id"]),
                   tuple(changed))


def _cond(field_name: str, operator: str, value: str) -> dict[str, str]:
    return {"field": field_name, "operator": operator, "value": value}


def _norm(items: Any) -> list[tuple[str, str, str]]:
    """Conditions/actions compared as sets of (field, operator, value), values as text."""
    out = []
    for item in items or []:
        if isinstance(item, dict):
            value = item.get("value")
            text = ",".join(map(str, value)) if isinstance(value, list) else \
                ("" if value is None else str(value))
            out.append((str(item.get("field")), str(item.get("operator") or ""), text))
    return sorted(out)
