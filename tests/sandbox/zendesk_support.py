"""Test plumbing for the Zendesk sandbox tests: a real sandbox server and a webhook catcher.

Both run in threads on loopback ports and are driven with `requests`, so the tests see what the
bridge will: HTTP status codes, headers and raw bodies. The webhook signature is checked here
from Zendesk's documented scheme, never with the sandbox's own signing code.
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

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from tests.support.capture import CaptureServer
from tests.support.signing import zendesk_signature_ok

EMAIL, TOKEN, OAUTH = "bridge@acme-shop.test", "test-zendesk-token", "test-zendesk-oauth"
SECRET = "test-zendesk-webhook-secret"
API_USER_ID, ANA_ID, DANA_ID = 9003, 9001, 9002


def signature_ok(headers: Message | dict[str, str], body: bytes, secret: str = SECRET) -> bool:
    """base64(HMAC-SHA256(key=secret, msg=timestamp + raw body)), as Zendesk documents it."""
    return zendesk_signature_ok(headers, body, secret)


class Capture(CaptureServer):
    """The webhook capture server (tests/support/capture.py), at `/zendesk`."""

    def __init__(self) -> None:
        super().__init__("/zendesk")

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self.cond:
            bodies = [h.json for h in self.hooks]
        return [b for b in bodies if kind is None or b["type"] == f"zen:event-type:{kind}"]


def wait_until(check: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Stack:
    """A running sandbox (`base`), its Sandbox object (`sb`) and the webhook catcher."""

    base: str
    sb: Any
    capture: Capture
    api: requests.Session

    def admin(self, method: str, path: str, **kw: Any) -> requests.Response:
        return _PLAIN.request(method, f"{self.base}/_sandbox{path}", timeout=10, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.api.get(f"{self.base}{path}", timeout=10, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return self.api.post(f"{self.base}{path}", json=body, timeout=10, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return self.api.put(f"{self.base}{path}", json=body, timeout=10, **kw)

    def patch(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return self.api.patch(f"{self.base}{path}", json=body, timeout=10, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.api.delete(f"{self.base}{path}", timeout=10, **kw)

    def new_ticket(self, **fields: Any) -> dict[str, Any]:
        ticket = {"subject": "Order late", "comment": {"body": "Where is my order?"},
                  "requester": {"name": "Alice Ames", "email": "alice@example.com"}, **fields}
        r = self.post("/api/v2/tickets.json", {"ticket": ticket})
        assert r.status_code == 201, r.text
        return r.json()["ticket"]

    def settle(self, timeout: float = 15.0) -> None:
        """Wait until no delivery is pending, so nothing leaks into the next test."""
        wait_until(lambda: self.sb.outbox.pending() == 0, timeout, "outbox to drain")


_PLAIN = requests.Session()
_PLAIN.trust_env = False


def api_session(email: str = EMAIL, token: str = TOKEN) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.auth = (f"{email}/token", token)
    return s


def stack_fixtures() -> tuple[Any, Any]:
    """Fixtures for one test module: `stack_server, stack = stack_fixtures()`, then take
    `stack` as a test argument (a fresh, reset sandbox per test; one server per module)."""

    @pytest.fixture(scope="module")
    def stack_server() -> Iterator[Stack]:
        capture = Capture()
        cfg = SandboxConfig(zendesk_email=EMAIL, zendesk_api_token=TOKEN,
                            zendesk_oauth_token=OAUTH, zendesk_webhook_url=capture.url,
                            zendesk_webhook_secret=SECRET, production_limits=False)
        app = create_app(cfg)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield Stack(f"http://127.0.0.1:{server.server_port}", app.extensions["sandbox"],
                    capture, api_session())
        server.shutdown()
        capture.close()

    @pytest.fixture
    def stack(stack_server: Stack) -> Iterator[Stack]:
        stack_server.admin("POST", "/reset").raise_for_status()
        stack_server.admin("POST", "/config", json={
            "zendesk_webhook_url": stack_server.capture.url,
            "zendesk_webhook_secret": SECRET}).raise_for_status()
        stack_server.capture.clear()
        yield stack_server
        stack_server.settle()

    return stack_server, stack
