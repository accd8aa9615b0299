"""Test plumbing for the Klaviyo sandbox tests: a real sandbox server and a webhook capture server.

Both run in threads on loopback ports and are talked to with `requests`, so the tests exercise
what the bridge will: HTTP, headers, status codes, raw bodies. The Klaviyo webhook signature is
checked here from the documented scheme (API-NOTES.md), never with the sandbox's own code.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from sandbox.app import Sandbox, create_app
from sandbox.config import SandboxConfig

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
    stamp = headers.get("Klaviyo-Timestamp", "") or ""
    want = hmac.new(secret.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()
    return bool(stamp) and hmac.compare_digest(want, headers.get("Klaviyo-Signature", "") or "")


@dataclass
class Hook:
    path: str
    headers: Message
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Capture:
    """Records every POST. Answers 200 unless statuses were queued with `answer_next`."""

    hooks: list[Hook] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    script: collections.deque[int] = field(default_factory=collections.deque)

    def __post_init__(self) -> None:
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with capture.cond:
                    capture.hooks.append(Hook(self.path, self.headers, body))
                    status = capture.script.popleft() if capture.script else 200
                    capture.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer_next(self, *statuses: int) -> None:
        with self.cond:
            self.script.extend(statuses)

    def wait_for(self, count: int = 1, timeout: float = WAIT) -> list[Hook]:
        """The first `count` hooks, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.hooks) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} webhooks, got {len(self.hooks)}")
                self.cond.wait(left)
            return list(self.hooks[:count])

    def clear(self) -> None:
        with self.cond:
            self.hooks.clear()
            self.script.clear()


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


def sandbox_fixture(production_limits: bool = False) -> tuple[Any, Any]:
    """A module-scoped sandbox server and a per-test reset of it; in a test module write
    `env_once, env = sandbox_fixture()` and take `env` as a test argument."""

    @pytest.fixture(scope="module")
    def env_once() -> Iterator[Env]:
        capture = Capture()
        cfg = SandboxConfig(klaviyo_api_key=API_KEY, klaviyo_webhook_url=f"{capture.url}/klaviyo",
                            klaviyo_webhook_secret=SECRET, production_limits=production_limits)
        app = create_app(cfg)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield Env(f"http://127.0.0.1:{server.server_port}", app.extensions["sandbox"], capture)
        finally:
            server.shutdown()
            capture.server.shutdown()

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
