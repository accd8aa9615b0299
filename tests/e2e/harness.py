"""Drive and inspect the running system (real processes) from tests: the sandbox admin API,
the stack's own Redis, and a polling `wait_for` (never a fixed sleep that hopes)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import requests

from bridge.domain.bulk import KINDS
from scripts.devstack import DEV_BRANDS_FILE, DEV_ZENDESK_BRAND_ID, Stack
from workers.queues import QUEUES

ALICE, BOB, CARLA, DANA, EMIL = ("+15005550101", "+15005550102", "+15005550103",
                                 "+15005550104", "+447700900105")
TOLL_FREE, LONG_CODE, SHORT_CODE, BRANDED = "+18005550100", "+12125550100", "12345", "ACME"
AGENT_ANA, AGENT_DANA = 9001, 9002
PROFILE = {"alice": "01JSANDBOXALICE0000000000", "bob": "01JSANDBOXBOB000000000000",
           "dana": "01JSANDBOXDANA00000000000"}

# E7 (#16): the second brand, bolt (the sandbox's second Klaviyo account, sandbox/seed.py BOLT),
# as sandbox/brands.dev.toml configures it (for `./dev up` too); the default brand is the
# sandbox's first account (acme).
BOLT = "bolt"
BOLT_TOLL_FREE, BOLT_LONG_CODE, BOLT_SHORT_CODE = "+18005550200", "+12125550200", "54321"
ACME_ZENDESK_BRAND, BOLT_ZENDESK_BRAND = int(DEV_ZENDESK_BRAND_ID), 8002
BOLT_PROFILE = {"alice": "01JSANDBOXBOLTALICE000000", "finn": "01JSANDBOXBOLTFINN0000000"}


def brands_env(workdir: Path, web_url: str) -> dict[str, str]:
    """A stack's settings for two brands (E7): the brands file copied to `workdir`, the default
    brand in Zendesk brand 8001, and bolt's Klaviyo webhooks sent to its own route."""
    path = workdir / "brands.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEV_BRANDS_FILE, path)
    return {"BRANDS_FILE": str(path), "ZENDESK_BRAND_ID": str(ACME_ZENDESK_BRAND),
            "SANDBOX_KLAVIYO2_WEBHOOK_URL": f"{web_url}/webhooks/klaviyo/{BOLT}"}


def make_stack(workdir: Path, extra_env: dict[str, str] | None = None, *, brands: bool = False,
               **options: Any) -> Stack:
    """A `Stack` (not started) with `extra_env`; `brands=True` adds bolt (`brands_env`)."""
    stack = Stack(workdir=workdir, extra_env=dict(extra_env or {}), **options)
    if brands:
        stack.extra_env.update(brands_env(workdir, stack.web_url))
    return stack


def wait_for(check: Callable[[], Any], timeout: float = 30, what: str = "condition",
             every: float = 0.2) -> Any:
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last={last!r}")


CONVERSATIONS = ((ALICE, TOLL_FREE), (BOB, TOLL_FREE), (EMIL, TOLL_FREE))


def parked_idle(r: redis.Redis, soon: float = 5.0) -> bool:
    """No text or note waiting for a Zendesk bulk job (E6), and no parked job due within
    `soon` seconds (a staged item waits parked in `zkb:due`, and one whose job answered is due
    now); a hold hours away (quiet hours) is not work in progress."""
    pipe = r.pipeline(transaction=False)
    for kind in KINDS:
        pipe.zcard(f"zkb:bulk:staged:{kind}")
    pipe.zcard("zkb:bulk:batches")
    pipe.zcount("zkb:due", "-inf", time.time() + soon)
    return sum(int(n) for n in pipe.execute()) == 0


class Bridge:
    """The system under test, seen from outside."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.sandbox = stack.sandbox_url
        self.redis = redis.Redis.from_url(stack.redis_url)

    # --- customer side ------------------------------------------------------------------
    def text(self, phone: str, body: str, to: str = TOLL_FREE,
             media_urls: list[str] | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"from": phone, "to": to, "body": body}
        if media_urls:
            payload["media_urls"] = media_urls
        r = requests.post(f"{self.sandbox}/_sandbox/klaviyo/inbound", json=payload, timeout=10)
        r.raise_for_status()
        return r.json()

    def text_batch(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        r = requests.post(f"{self.sandbox}/_sandbox/klaviyo/inbound/batch",
                          json={"messages": messages}, timeout=10)
        r.raise_for_status()
        return r.json()

    def redeliver(self, delivery_id: int) -> None:
        requests.post(f"{self.sandbox}/_sandbox/deliveries/{delivery_id}/redeliver",
                      timeout=10).raise_for_status()

    # --- agent side ---------------------------------------------------------------------
    def set_status(self, ticket_id: int, status: str, silent: bool = False) -> None:
        requests.post(f"{self.sandbox}/_sandbox/zendesk/tickets/{ticket_id}/status",
                      json={"status": status, "actor_id": AGENT_ANA, "silent": silent},
                      timeout=10).raise_for_status()

    def reply(self, ticket_id: int, body: str, *, public: bool = True, author_id: int = AGENT_ANA,
              html_body: str | None = None, attachments: list[dict] | None = None) -> dict:
        payload: dict[str, Any] = {"author_id": author_id, "body": body, "public": public}
        if html_body is not None:
            payload["html_body"] = html_body
        if attachments:
            payload["attachments"] = attachments
        r = requests.post(f"{self.sandbox}/_sandbox/zendesk/tickets/{ticket_id}/comments",
                          json=payload, timeout=10)
        r.raise_for_status()
        return r.json()

    def set_consent(self, profile_id: str, marketing: str, transactional: str) -> None:
        requests.post(f"{self.sandbox}/_sandbox/klaviyo/profiles/{profile_id}/consent",
                      json={"sms_marketing": marketing, "sms_transactional": transactional},
                      timeout=10).raise_for_status()

    def campaign(self, phone: str, body: str, name: str, to_from: str = TOLL_FREE) -> None:
        requests.post(f"{self.sandbox}/_sandbox/klaviyo/campaign",
                      json={"to": phone, "from": to_from, "body": body, "campaign_name": name},
                      timeout=10).raise_for_status()

    def campaign_batch(self, phones: list[str], body: str, flow: str,
                       sender: str = TOLL_FREE) -> dict[str, Any]:
        """One flow SMS to many phones; Klaviyo reports the receipts in deliveries of 500."""
        r = requests.post(f"{self.sandbox}/_sandbox/klaviyo/campaign/batch",
                          json={"to": phones, "from": sender, "body": body, "flow_name": flow},
                          timeout=120)
        r.raise_for_status()
        return r.json()

    def set_limit(self, bucket: str, windows: list[list[float]]) -> None:
        requests.post(f"{self.sandbox}/_sandbox/limits",
                      json={"bucket": bucket, "windows": windows}, timeout=10).raise_for_status()

    # --- inspection ---------------------------------------------------------------------
    def tickets(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.sandbox}/_sandbox/zendesk/tickets", timeout=10).json()[
            "tickets"]

    def tickets_of(self, phone: str, to: str = TOLL_FREE) -> list[dict[str, Any]]:
        ext = f"zkb-sms:{phone}:{to}"
        found = requests.get(f"{self.sandbox}/_sandbox/zendesk/tickets",
                             params={"external_id": ext}, timeout=10).json()["tickets"]
        return sorted(found, key=lambda t: t["id"])

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        return requests.get(f"{self.sandbox}/_sandbox/zendesk/tickets/{ticket_id}",
                            timeout=10).json()["ticket"]

    def users(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.sandbox}/_sandbox/zendesk/users", timeout=10).json()["users"]

    def sms_to(self, phone: str, account: str | None = None) -> list[dict[str, Any]]:
        """SMS that reached the customer's phone from a brand number, oldest first (through
        the sandbox's Klaviyo `account`: acme, the default, or bolt)."""
        r = requests.get(f"{self.sandbox}/_sandbox/klaviyo/sms",
                         params=_account({"phone": phone}, account), timeout=10)
        return [m for m in r.json() if m["direction"] == "to_customer"]

    def replies_to(self, phone: str, account: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.sms_to(phone, account) if m["source"] == "conversation"]

    def throttled(self) -> dict[str, int]:
        return requests.get(f"{self.sandbox}/_sandbox/calls", timeout=10).json()["throttled"]

    def calls(self) -> dict[str, int]:
        return requests.get(f"{self.sandbox}/_sandbox/calls", timeout=10).json()["calls"]

    def reset_calls(self) -> None:
        requests.post(f"{self.sandbox}/_sandbox/calls/reset", timeout=10).raise_for_status()

    def zendesk_calls(self) -> int:
        return sum(n for k, n in self.calls().items() if k.startswith("zendesk "))

    def counters(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.redis.hgetall("zkb:counters").items()}

    def deliveries(self, source: str | None = None) -> list[dict[str, Any]]:
        params = {"source": source} if source else {}
        return requests.get(f"{self.sandbox}/_sandbox/deliveries", params=params,
                            timeout=10).json()["deliveries"]

    def idle(self) -> bool:
        """No webhook waiting to be delivered, no task queued or held, no text waiting."""
        if any(d["status"] == "pending" for d in self.deliveries()):
            return False
        queued = sum(self.redis.llen(q) for q in QUEUES if q != "zkb.maintenance")
        held = self.redis.hlen("unacked")
        waiting = any(True for _ in self.redis.scan_iter(match="zkb:convq:*"))
        return queued == 0 and held == 0 and not waiting and parked_idle(self.redis)

    def settle(self, timeout: float = 60) -> None:
        wait_for(self.idle, timeout, "the bridge to finish its work")

    def comments(self, ticket_id: int) -> list[dict[str, Any]]:
        return self.ticket(ticket_id)["comments"]

    def make_customers(self, count: int, account: str | None = None,
                       first: int = 0) -> list[str]:
        """`count` new Klaviyo profiles subscribed to SMS (+1500555 4000 + `first` upwards, a
        thousand a call) in `account` (default: acme), made in the sandbox without a text, so
        the bridge sees nothing of them."""
        phones = [f"+1500{5554000 + first + i:07d}" for i in range(count)]
        for i in range(0, count, 1000):
            requests.post(f"{self.sandbox}/_sandbox/klaviyo/profiles/batch",
                          params=_account({}, account), json={"phones": phones[i:i + 1000]},
                          timeout=60).raise_for_status()
        return phones

    def run_task(self, name: str, *args: object) -> None:
        """Publish a task the way beat would (e.g. the catch-up sweep), on the stack's Redis."""
        from bridge.config import Settings
        from workers.celery_app import make_celery  # noqa: PLC0415

        celery = make_celery(Settings.from_env(self.stack.env()))
        celery.send_task(name, args=list(args))

    def klaviyo_events(self, metric: str, account: str | None = None) -> list[dict[str, Any]]:
        return requests.get(f"{self.sandbox}/_sandbox/klaviyo/events",
                            params=_account({"metric": metric}, account), timeout=10).json()

    def desk_ticket(self, **fields: Any) -> dict[str, Any]:
        """A ticket made in the agent desk / web form (fires ticket.created)."""
        r = requests.post(f"{self.sandbox}/_sandbox/zendesk/tickets", json=fields, timeout=10)
        r.raise_for_status()
        return r.json()["ticket"]

    def set_config(self, **values: str) -> None:
        requests.post(f"{self.sandbox}/_sandbox/config", json=values,
                      timeout=10).raise_for_status()

    def shift_zendesk_clock(self, seconds: float) -> None:
        requests.post(f"{self.sandbox}/_sandbox/zendesk/clock", json={"offset_seconds": seconds},
                      timeout=10).raise_for_status()

    def reset(self) -> None:
        self.settle()
        requests.post(f"{self.sandbox}/_sandbox/reset", timeout=10).raise_for_status()
        self.redis.flushdb()


def _account(params: dict[str, str], account: str | None) -> dict[str, str]:
    """Admin-route parameters naming the sandbox's Klaviyo account (None: the default one)."""
    return {**params, "account": account} if account else params


def open_tickets(bridge: Bridge, conversations: tuple[tuple[str, str], ...] = CONVERSATIONS,
                 ) -> dict[tuple[str, str], int]:
    """One ticket per (phone, brand number), opened by a first text."""
    for phone, to in conversations:
        bridge.text(phone, "hello", to=to)
    wait_for(lambda: all(bridge.tickets_of(p, to) for p, to in conversations), what="tickets")
    bridge.settle()
    return {(p, to): bridge.tickets_of(p, to)[0]["id"] for p, to in conversations}
