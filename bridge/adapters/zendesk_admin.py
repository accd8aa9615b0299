"""Zendesk's admin endpoints that `zkbridge provision` uses (bridge/ops/provision.py): the
webhook, the "SMS tickets" view and the close-solved automation. Kept apart from the ticketing
client (zendesk.py) because only an operator's command calls them, never a worker.

The Webhooks API is newer than the ticketing one: string ids, no `.json` suffix, cursor
pagination, PATCH as a JSON merge patch answering 204, the secret on its own endpoint.
"""

from __future__ import annotations

from typing import Any

from bridge.adapters.http import Funnel

MAX_PAGES = 50   # listing webhooks/views/automations: 5000 is more than any account has


class ZendeskAdmin:
    def __init__(self, http: Funnel) -> None:
        self.http = http

    def webhooks(self, name_contains: str) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"filter[name_contains]": name_contains, "page[size]": 100}
        found: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            doc = self.http.request("GET", "/api/v2/webhooks", "GET webhooks",
                                    params=params).json()
            found += doc.get("webhooks") or []
            meta = doc.get("meta") or {}
            if not meta.get("has_more") or not meta.get("after_cursor"):
                break
            params["page[after]"] = meta["after_cursor"]
        return found

    def create_webhook(self, webhook: dict[str, Any]) -> dict[str, Any]:
        resp = self.http.request("POST", "/api/v2/webhooks", "POST webhooks",
                                 json={"webhook": webhook})
        return resp.json()["webhook"]

    def patch_webhook(self, webhook_id: str, changes: dict[str, Any]) -> None:
        """Only the fields named change (authentication or headers an admin added are kept)."""
        self.http.request("PATCH", f"/api/v2/webhooks/{webhook_id}", "PATCH webhooks/{id}",
                          json={"webhook": changes},
                          headers={"Content-Type": "application/merge-patch+json"})

    def delete_webhook(self, webhook_id: str) -> None:
        """204; the webhook stops delivering at once."""
        self.http.request("DELETE", f"/api/v2/webhooks/{webhook_id}", "DELETE webhooks/{id}")

    def webhook_signing_secret(self, webhook_id: str) -> str:
        resp = self.http.request("GET", f"/api/v2/webhooks/{webhook_id}/signing_secret",
                                 "GET webhooks/{id}/signing_secret")
        return str(resp.json()["signing_secret"]["secret"])

    def ticket_fields(self) -> list[dict[str, Any]]:
        """Every ticket field (GET /api/v2/ticket_fields lists them all in one answer [doc])."""
        doc = self.http.request("GET", "/api/v2/ticket_fields", "GET ticket_fields").json()
        return list(doc.get("ticket_fields") or [])

    def create_ticket_field(self, ticket_field: dict[str, Any]) -> dict[str, Any]:
        return self.http.request("POST", "/api/v2/ticket_fields", "POST ticket_fields",
                                 json={"ticket_field": ticket_field}).json()["ticket_field"]

    def views(self) -> list[dict[str, Any]]:
        return self._rules("views")

    def create_view(self, view: dict[str, Any]) -> dict[str, Any]:
        return self.http.request("POST", "/api/v2/views", "POST views",
                                 json={"view": view}).json()["view"]

    def update_view(self, view_id: int, view: dict[str, Any]) -> dict[str, Any]:
        return self.http.request("PUT", f"/api/v2/views/{view_id}", "PUT views/{id}",
                                 json={"view": view}).json()["view"]

    def automations(self) -> list[dict[str, Any]]:
        return self._rules("automations")

    def create_automation(self, automation: dict[str, Any]) -> dict[str, Any]:
        return self.http.request("POST", "/api/v2/automations", "POST automations",
                                 json={"automation": automation}).json()["automation"]

    def update_automation(self, automation_id: int,
                          automation: dict[str, Any]) -> dict[str, Any]:
        return self.http.request("PUT", f"/api/v2/automations/{automation_id}",
                                 "PUT automations/{id}",
                                 json={"automation": automation}).json()["automation"]

    def _rules(self, plural: str) -> list[dict[str, Any]]:
        """Every view or automation (offset pagination: `page` until no `next_page`)."""
        found: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            doc = self.http.request("GET", f"/api/v2/{plural}", f"GET {plural}",
                                    params={"page": page, "per_page": 100}).json()
            found += doc.get(plural) or []
            if not doc.get("next_page"):
                break
        return found
