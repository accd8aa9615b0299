"""Rolling the Zendesk webhook's signing secret without losing a delivery.

Resetting a webhook's secret takes effect at once and Zendesk does not retry a 401, so the roll
uses a second webhook instead:

1. `start_rotation`: a webhook "zkbridge-next" with the same endpoint and subscriptions, made
   *inactive* (it delivers nothing yet); its secret goes to a file for the operator, who adds it
   to ZENDESK_WEBHOOK_SECRET (old,new) and restarts the receivers.
2. `finish_rotation`: only once the new secret is configured, "zkbridge-next" is activated, the
   old webhook deleted and the new one renamed "zkbridge". While both are active each event comes
   twice, signed with either secret; de-duplication by event id keeps it once. The operator then
   removes the old secret.

Both steps are idempotent: run again after an interruption, they carry on where they stopped.
"""

from __future__ import annotations

from typing import Any, Protocol

from bridge.ops.provision import WEBHOOK_NAME, Outcome, secret_matches, webhook_spec

NEXT_NAME = f"{WEBHOOK_NAME}-next"


class RotationApi(Protocol):
    def webhooks(self, name_contains: str) -> list[dict[str, Any]]: ...
    def create_webhook(self, webhook: dict[str, Any]) -> dict[str, Any]: ...
    def patch_webhook(self, webhook_id: str, changes: dict[str, Any]) -> None: ...
    def webhook_signing_secret(self, webhook_id: str) -> str: ...
    def delete_webhook(self, webhook_id: str) -> None: ...


class RotationRefused(Exception):
    """A step cannot be taken yet; the message says what to do first."""


def start_rotation(api: RotationApi, public_url: str) -> tuple[Outcome, str]:
    """Step 1: the inactive second webhook and its signing secret (for a file, never shown)."""
    if _named(api, WEBHOOK_NAME) is None:
        raise RotationRefused(f"there is no webhook named {WEBHOOK_NAME!r} to rotate: run "
                              "`zkbridge provision` first")
    found = _named(api, NEXT_NAME)
    if found is None:
        found = api.create_webhook({**webhook_spec(public_url), "name": NEXT_NAME,
                                    "status": "inactive"})
        outcome = Outcome(f"webhook {NEXT_NAME!r}", "created", str(found["id"]),
                          note="inactive until `zkbridge provision --finish`")
    else:
        outcome = Outcome(f"webhook {NEXT_NAME!r}", "unchanged", str(found["id"]),
                          note="a rotation was already started; its secret is written again")
    return outcome, api.webhook_signing_secret(str(found["id"]))


def finish_rotation(api: RotationApi, configured: tuple[str, ...]) -> list[Outcome]:
    """Step 2: activate the new webhook, delete the old one, give the new one the old name."""
    nxt = _named(api, NEXT_NAME)
    if nxt is None:
        raise RotationRefused(f"no rotation in progress (no webhook named {NEXT_NAME!r}): run "
                              "`zkbridge provision --rotate-secret` first")
    hook_id = str(nxt["id"])
    if not any(secret_matches(api.webhook_signing_secret(hook_id), s) for s in configured):
        raise RotationRefused(
            "the new webhook's secret is not in ZENDESK_WEBHOOK_SECRET yet, so its deliveries "
            "would be refused (401, never retried by Zendesk): add it after the current secret "
            "(comma-separated) or in ZENDESK_WEBHOOK_SECRET_FILE, restart the receivers, then "
            "run --finish again")
    outcomes = []
    if nxt.get("status") != "active":
        api.patch_webhook(hook_id, {"status": "active"})
        outcomes.append(Outcome(f"webhook {NEXT_NAME!r}", "activated", hook_id))
    old = _named(api, WEBHOOK_NAME)
    if old is not None:
        api.delete_webhook(str(old["id"]))
        outcomes.append(Outcome(f"webhook {WEBHOOK_NAME!r}", "deleted", str(old["id"]),
                                note="it signed with the old secret"))
    api.patch_webhook(hook_id, {"name": WEBHOOK_NAME})
    outcomes.append(Outcome(f"webhook {NEXT_NAME!r}", "renamed", hook_id,
                            note=f"it is now {WEBHOOK_NAME!r}"))
    return outcomes


def _named(api: RotationApi, name: str) -> dict[str, Any] | None:
    return next((w for w in api.webhooks(WEBHOOK_NAME) if w.get("name") == name), None)
