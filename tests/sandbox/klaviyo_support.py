"""Test plumbing for the Klaviyo sandbox tests: a real sandbox server and a webhook capture server.

Both run in threads on loopback ports and are talked to with `requests`, so the tests exercise
what the bridge will: HTTP, headers, status codes, raw bodies. The Klaviyo webhook signature is
checked here from the documented scheme (API-NOTES.md), never with the sandbox's own code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from sandbox.app import Sandbox, create_app
from sandbox.config import SandboxConfig
from tests.support.capture import CaptureServer, Hook
from tests.support.signing import klaviyo_signature_ok

API_KEY = "pk_test_klaviyo_key"
SECRET = "test-klaviyo-webhook-secret"
HEADERS = {"Authorization": f"Klaviyo-API-Key {API_KEY}", "revision": "2026-07-15",
           "Accept": "application/vnd.api+json", "Content-Type": "application/vnd.api+json"}
ALICE = {"id": "01JSANDBOXALICE0000000000", "phone": "+15005550101", "email": "alice@example.com"}
BOB = {"id": "01JSANDBOXBOB000000000000", "phone": "+15005550102"}
CARLA = {"id": "01JSANDBOXCARLA0000000000", "phone": "+15005550103"}
TOLL_FREE, LONG_CODE, SHORT_CODE, BRANDED = "+18005550100", "+12125550100", "12345", "ACME"
WAIT = 5.0


def signature_ok(headers: Message | dict[str, str], body: bytes, secret: str = SECRET) -> bool:
    """Lowercase hex HMAC-SHA256(key=secret, msg=raw body + Klaviyo-Timestamp)."""
    return klaviyo_signature_ok(headers, body, secret)


class Capture(CaptureServer):
    """The webhook capture server (tests/support/capture.py); `wait_for` gives the first hooks."""

    def wait_for(self, count: int = 1, timeout: float = WAIT) -> list[Hook]:
        """The first `count` hooks, waiting for them to arrive."""
        return self.first(count, timeout)


@dataclass
class Env:
    base: str
    sb: Sandbox
    capture: Capture

    def api(self, method: str, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("headers", HEADERS)
        return requests.request(method, self.base + path, timeout=10, **kw)

    def admin_raw(self, method: str, path: str, **kw: Any) -> requests.Response:
        return requests.request(method, self.base + path, timeout=10, **kw)

    def admin(self, method: str, path: str, **kw: Any) -> Any:
        r = requests.request(method, self.base + path, timeout=10, **kw)
        assert r.ok, (method, path, r.status_code, r.text)
        return r.json() if r.content else None


def two_accounts_fixture(main_key: str, second_key: str) -> tuple[Any, Any]:
    """`sandbox_fixture` with two Klaviyo accounts (the default brand's and bolt's, E7),
    production limits off."""
    return sandbox_fixture(config=lambda capture: SandboxConfig(
        klaviyo_api_key=main_key, klaviyo2_api_key=second_key, production_limits=False))


def sandbox_fixture(production_limits: bool = False,
                    config: Callable[[Capture], SandboxConfig] | None = None) -> tuple[Any, Any]:
    """A module-scoped sandbox server and a per-test reset of it; in a test module write
    `env_once, env = sandbox_fixture()` and take `env` as a test argument."""

    @pytest.fixture(scope="module")
    def env_once() -> Iterator[Env]:
        capture = Capture()
        cfg = config(capture) if config else SandboxConfig(
            klaviyo_api_key=API_KEY, klaviyo_webhook_url=f"{capture.url}/klaviyo",
            klaviyo_webhook_secret=SECRET, production_limits=production_limits)
        app = create_app(cfg)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield Env(f"http://127.0.0.1:{server.server_port}", app.extensions["sandbox"], capture)
        finally:
            server.shutdown()
            capture.close()

    @pytest.fixture
    def env(env_once: Env) -> Iterator[Env]:
        env_once.sb.reset()
        env_once.capture.clear()
        yield env_once
        # let this test's webhooks land before the next test starts listening
        wait_until(lambda: env_once.sb.outbox.pending() == 0)
        env_once.sb.reset()

    return env_once, env


def conversation_message(conversation_id: str, body: str) -> dict[str, Any]:
    return {"data": {"type": "conversation-message", "attributes": {"body": body},
                     "relationships": {"conversation": {"data": {"type": "conversation",
                                                                 "id": conversation_id}}}}}


def event(metric: str, profile: dict[str, Any], unique_id: str | None = None,
          **attributes: Any) -> dict[str, Any]:
    """A create-event body as the bridge sends it; `profile` is the profile's attributes."""
    attrs: dict[str, Any] = {"properties": {"Ticket_id": 1}, **attributes,
                             "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
                             "profile": {"data": {"type": "profile", "attributes": profile}}}
    if unique_id is not None:
        attrs["unique_id"] = unique_id
    return {"data": {"type": "event", "attributes": attrs}}


def wait_until(check: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)
