"""Provisioning is idempotent: found by name/title, changed only where it differs."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.ops.provision import automation_spec, provision, webhook_changes, webhook_spec

URL = "https://bridge.acme-shop.example"


class FakeZendesk:
    """Keeps webhooks, views and automations the way Zendesk answers them (conditions nested
    under `conditions`, values as text); records every write."""

    def __init__(self) -> None:
        self.hooks: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, str] = {}
        self.views_: dict[int, dict[str, Any]] = {}
        self.automations_: dict[int, dict[str, Any]] = {}
        self.writes: list[str] = []
        self.fields_: list[dict[str, Any]] = []

    def webhooks(self, name_contains: str) -> list[dict[str, Any]]:
        return [h for h in self.hooks.values() if name_contains.lower() in h["name"].lower()]

    def create_webhook(self, webhook: dict[str, Any]) -> dict[str, Any]:
        hook_id = f"01HOOK{len(self.hooks)}"
        self.hooks[hook_id] = {"id": hook_id, **webhook}
        self.secrets[hook_id] = f"made-by-zendesk-{hook_id}"
        self.writes.append("create webhook")
        return self.hooks[hook_id]

    def patch_webhook(self, webhook_id: str, changes: dict[str, Any]) -> None:
        self.hooks[webhook_id].update(changes)
        self.writes.append(f"patch webhook {sorted(changes)}")

    def webhook_signing_secret(self, webhook_id: str) -> str:
        return self.secrets[webhook_id]

    def views(self) -> list[dict[str, Any]]:
        return list(self.views_.values())

    def create_view(self, view: dict[str, Any]) -> dict[str, Any]:
        return self._save(self.views_, "view", None, view)

    def update_view(self, view_id: int, view: dict[str, Any]) -> dict[str, Any]:
        return self._save(self.views_, "view", view_id, view)

    def automations(self) -> list[dict[str, Any]]:
        return list(self.automations_.values())

    def create_automation(self, automation: dict[str, Any]) -> dict[str, Any]:
        return self._save(self.automations_, "automation", None, automation)

    def update_automation(self, automation_id: int, automation: dict[str, Any]) -> dict[str, Any]:
        return self._save(self.automations_, "automation", automation_id, automation)

    def ticket_fields(self) -> list[dict[str, Any]]:
        return [{"id": 1, "title": "Subject", "type": "subject"}, *self.fields_]

    def create_ticket_field(self, ticket_field: dict[str, Any]) -> dict[str, Any]:
        self.writes.append("create ticket field")
        self.fields_.append({"id": 360100 + len(self.fields_), **ticket_field})
        return self.fields_[-1]

    def _save(self, into: dict[int, dict[str, Any]], kind: str, rule_id: int | None,
              body: dict[str, Any]) -> dict[str, Any]:
        self.writes.append(f"{'update' if rule_id else 'create'} {kind}")
        rule_id = rule_id or 100 + len(into)
        shown = {"id": rule_id, "title": body["title"], "active": body["active"],
                 "conditions": {k: [{**c, "value": str(c["value"])} for c in body[k]]
                                for k in ("all", "any")}}
        if "actions" in body:
            shown["actions"] = body["actions"]
        into[rule_id] = shown
        return shown


def test_provisioning_twice_creates_each_object_once_then_reports_unchanged() -> None:
    zd = FakeZendesk()
    first = provision(zd, URL, "old-secret", view=True, close_after_hours=72)
    assert [(o.what, o.action) for o in first.outcomes] == [
        ("webhook", "created"), ("view 'SMS tickets'", "created"),
        ("automation 'Close solved SMS tickets after 72 hours'", "created")]
    second = provision(zd, URL, "old-secret", view=True, close_after_hours=72)
    assert [o.action for o in second.outcomes] == ["unchanged"] * 3
    assert zd.writes == ["create webhook", "create view", "create automation"]
    hook = next(iter(zd.hooks.values()))
    assert hook["endpoint"] == f"{URL}/webhooks/zendesk"
    assert (hook["http_method"], hook["request_format"], hook["status"]) == (
        "POST", "json", "active")
    assert sorted(hook["subscriptions"]) == [
        "zen:event-type:ticket.comment_added", "zen:event-type:ticket.created",
        "zen:event-type:ticket.status_changed", "zen:event-type:ticket.tags_changed"]


def test_the_signing_secret_is_compared_with_the_configured_one() -> None:
    zd = FakeZendesk()
    report = provision(zd, URL, "not-it")
    assert not report.secret_matches and report.secret == "made-by-zendesk-01HOOK0"
    assert provision(zd, URL, "made-by-zendesk-01HOOK0").secret_matches


def test_a_changed_public_url_patches_only_the_endpoint() -> None:
    zd = FakeZendesk()
    provision(zd, URL, "s")
    zd.hooks["01HOOK0"]["status"] = "inactive"
    zd.hooks["01HOOK0"]["description"] = "reworded by an admin"
    report = provision(zd, "https://new.example/", "s")
    assert report.outcomes[0].action == "updated"
    assert report.outcomes[0].changed == ("endpoint", "status")
    assert zd.writes[-1] == "patch webhook ['endpoint', 'status']"
    assert zd.hooks["01HOOK0"]["description"] == "reworded by an admin"
    assert len(zd.hooks) == 1


def test_a_new_close_delay_updates_the_same_automation() -> None:
    zd = FakeZendesk()
    provision(zd, URL, "s", close_after_hours=72)
    report = provision(zd, URL, "s", close_after_hours=24)
    assert report.outcomes[1].action == "updated"
    assert "conditions.all" in report.outcomes[1].changed
    [automation] = zd.automations_.values()
    assert automation["title"] == "Close solved SMS tickets after 24 hours"


def test_the_automation_closes_sms_tickets_solved_at_least_n_hours_ago() -> None:
    spec = automation_spec(72)
    assert {"field": "SOLVED", "operator": "greater_than", "value": "71"} in spec["all"]
    assert {"field": "status", "operator": "is", "value": "solved"} in spec["all"]
    assert {"field": "current_tags", "operator": "includes", "value": "sms"} in spec["all"]
    assert spec["actions"] == [{"field": "status", "value": "closed"}]
    with pytest.raises(ValueError):
        automation_spec(0)


def test_webhook_changes_ignore_subscription_order() -> None:
    spec = webhook_spec(URL)
    current = {**spec, "subscriptions": list(reversed(spec["subscriptions"]))}
    assert webhook_changes(current, spec) == {}


def test_a9_the_context_field_is_made_once_and_its_id_named_for_the_setting() -> None:
    zd = FakeZendesk()
    first = provision(zd, URL, "old-secret", context_field=True)
    field = first.outcomes[-1]
    assert (field.what, field.action) == ("ticket field 'SMS context'", "created")
    assert zd.fields_[0]["type"] == "textarea" and zd.fields_[0]["title"] == "SMS context"
    assert field.note == f"set ZENDESK_CONTEXT_FIELD_ID={zd.fields_[0]['id']}"
    again = provision(zd, URL, "old-secret", context_field=True).outcomes[-1]
    assert (again.action, again.id) == ("unchanged", field.id)
    assert zd.writes.count("create ticket field") == 1
