"""A brand's Klaviyo system webhook (rule E7, #16; docs/brands.md item 6), as `zkbridge
provision --brand NAME` makes it: each Klaviyo account sends its customers' texts to its own
route, `PUBLIC_URL/webhooks/klaviyo/<brand>` (the default brand's is today's
`/webhooks/klaviyo`), signed with the brand's own secret. The Zendesk webhook stays one for all
brands (provision.py).

Found by its name (`zkbridge`) in the brand's account, then made or changed only where it
differs. Klaviyo shows a webhook's endpoint truncated and never its secret [doc], so an endpoint
that does not read back whole is set again (the outcome says so), and the secret is written
only when the webhook is made: the first of the brand's configured webhook secrets, the one the
receiver checks first. Only Advanced KDP accounts may manage webhooks by API [doc]: a 403 is
answered with the steps to make it by hand (`manual_steps`).
"""

from __future__ import annotations

from typing import Any, Protocol

from bridge.domain.brand_scope import DEFAULT
from bridge.ops.provision import Outcome
from bridge.payloads.klaviyo_events import RECEIVED_SMS, SENT_SMS
from bridge.payloads.whatsapp import SENT_WHATSAPP

WEBHOOK_NAME = "zkbridge"
TOPICS = (SENT_SMS, RECEIVED_SMS, SENT_WHATSAPP)
DESCRIPTION = "Zendesk-Klaviyo SMS bridge: texts to and from customers (made by zkbridge provision)"


class KlaviyoWebhooksApi(Protocol):
    """The calls it makes (adapters/klaviyo_admin.py; a fake in tests)."""

    def webhooks(self) -> list[dict[str, Any]]: ...
    def create_webhook(self, attributes: dict[str, Any], topics: list[str]) -> str: ...
    def patch_webhook(self, webhook_id: str, attributes: dict[str, Any],
                      topics: list[str] | None) -> None: ...


def webhook_path(brand: str) -> str:
    """Where a brand's Klaviyo account sends its webhooks (webapp/receiver.py)."""
    return "/webhooks/klaviyo" if brand == DEFAULT else f"/webhooks/klaviyo/{brand}"


def endpoint(public_url: str, brand: str) -> str:
    return public_url.rstrip("/") + webhook_path(brand)


def ensure_klaviyo_webhook(api: KlaviyoWebhooksApi, public_url: str, brand: str,
                           secret: str) -> Outcome:
    """The brand's webhook made, or changed where it differs; raises the client's errors."""
    url, what = endpoint(public_url, brand), f"Klaviyo webhook of brand {brand}"
    same_name = [w for w in api.webhooks() if w.get("name") == WEBHOOK_NAME]
    if not same_name:
        made = api.create_webhook({"name": WEBHOOK_NAME, "description": DESCRIPTION,
                                   "endpoint_url": url, "secret_key": secret}, list(TOPICS))
        return Outcome(what, "created", made, note=f"sends the brand's texts to {url}, signed "
                                                    "with its first webhook secret")
    current = same_name[0]
    attributes, changed = _changes(current, url)
    topics = None if sorted(current.get("topics") or []) == sorted(TOPICS) else list(TOPICS)
    if topics is not None:
        changed.append("topics")
    if changed:
        api.patch_webhook(str(current["id"]), attributes, topics)
    note = f"sends the brand's texts to {url}"
    if len(same_name) > 1:
        note += (f"; {len(same_name) - 1} other webhook(s) of this account are also named "
                 f"{WEBHOOK_NAME!r}: delete them (texts would arrive twice, and be deduplicated)")
    return Outcome(what, "updated" if changed else "unchanged", str(current["id"]),
                   tuple(changed), note)


def _changes(current: dict[str, Any], url: str) -> tuple[dict[str, Any], list[str]]:
    """What to PATCH: the endpoint unless it reads back whole and equal (Klaviyo truncates it),
    and `enabled` if it was turned off."""
    attributes: dict[str, Any] = {}
    if current.get("endpoint_url") != url:
        attributes["endpoint_url"] = url
    if current.get("enabled") is not True:
        attributes["enabled"] = True
    return attributes, list(attributes)


def manual_steps(public_url: str, brand: str, secret_field: str) -> str:
    """What to do in Klaviyo's settings when its API may not manage webhooks."""
    return (f"create it in Klaviyo (Settings -> Webhooks) in brand {brand}'s account: endpoint "
            f"{endpoint(public_url, brand)}, topics {', '.join(TOPICS)}, and as its secret the "
            f"value of {secret_field}")
