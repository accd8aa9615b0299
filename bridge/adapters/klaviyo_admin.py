"""Klaviyo's Webhooks API, which `zkbridge provision --brand` uses to point a brand's system
webhook at its route (bridge/ops/klaviyo_webhook.py; rule E7, #16). Kept apart from the client
the workers use (klaviyo.py): only an operator's command calls it.

JSON:API as the rest of Klaviyo [doc: openapi, webhooks]: a webhook's topics are its
`webhook-topics` relationship; a listing shows `endpoint_url` truncated [doc]; the secret is
written (`secret_key`), never shown. Only Advanced KDP accounts and app partners may call it
[doc]: others are answered 403.
"""

from __future__ import annotations

from typing import Any

from bridge.adapters.http import Funnel

MAX_PAGES = 20
JSON_API = {"Content-Type": "application/vnd.api+json"}


class KlaviyoAdmin:
    def __init__(self, http: Funnel) -> None:
        self.http = http

    def webhooks(self) -> list[dict[str, Any]]:
        """Every system webhook of the account: `id`, `name`, `endpoint_url` (truncated),
        `enabled` and `topics` (ids)."""
        found: list[dict[str, Any]] = []
        url: str | None = "/api/webhooks"
        params: dict[str, Any] | None = {"include": "webhook-topics"}
        for _ in range(MAX_PAGES):
            doc = self.http.request("GET", url, "GET webhooks", params=params).json()
            found += [_webhook(item) for item in doc.get("data") or []]
            url, params = _next(doc, self.http.base_url), None
            if url is None:
                break
        return found

    def create_webhook(self, attributes: dict[str, Any], topics: list[str]) -> str:
        """The new webhook's id."""
        resp = self.http.request("POST", "/api/webhooks", "POST webhooks", headers=JSON_API,
                                 json={"data": {"type": "webhook", "attributes": attributes,
                                                "relationships": _topics(topics)}})
        return str(resp.json()["data"]["id"])

    def patch_webhook(self, webhook_id: str, attributes: dict[str, Any],
                      topics: list[str] | None) -> None:
        data: dict[str, Any] = {"type": "webhook", "id": webhook_id, "attributes": attributes}
        if topics is not None:
            data["relationships"] = _topics(topics)
        self.http.request("PATCH", f"/api/webhooks/{webhook_id}", "PATCH webhooks/{id}",
                          headers=JSON_API, json={"data": data})


def _webhook(item: dict[str, Any]) -> dict[str, Any]:
    attrs = item.get("attributes") or {}
    related = ((item.get("relationships") or {}).get("webhook-topics") or {}).get("data") or []
    return {"id": str(item.get("id")), "name": attrs.get("name"),
            "endpoint_url": attrs.get("endpoint_url"), "enabled": attrs.get("enabled"),
            "topics": sorted(str(t.get("id")) for t in related if isinstance(t, dict))}


def _topics(topics: list[str]) -> dict[str, Any]:
    return {"webhook-topics": {"data": [{"type": "webhook-topic", "id": t} for t in topics]}}


def _next(doc: dict[str, Any], base: str) -> str | None:
    link = (doc.get("links") or {}).get("next")
    if not link:
        return None
    return link[len(base):] if link.startswith(base) else link
