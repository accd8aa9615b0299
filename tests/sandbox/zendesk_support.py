"""Test plumbing for the Zendesk sandbox tests: a real sandbox server and a webhook catcher.

Both run in threads on loopback ports and are driven with `requests`, so the tests see what the
bridge will: HTTP status codes, headers and raw bodies. The webhook signature is checked here
from Zendesk's documented scheme, never with the sandbox's own signing code.
"""

from __future__ import annotations

import base64
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

from sandbox.app import create_app
from sandbox.config import SandboxConfig

EMAIL, TOKEN, OAUTH = "bridge@acme-shop.test", "test-zendesk-token", "test-zendesk-oauth"
SECRET = "test-zendesk-webhook-secret"
API_USER_ID, ANA_ID, DANA_ID = 9003, 9001, 9002


def signature_ok(headers: Message | dict[str, str], body: bytes, secret: str = SECRET) -> bool:
    """base64(HMAC-SHA256(key=secret, msg=timestamp + raw body)), as Zendesk documents it."""
    stamp = headers.get("X-Zendesk-Webhook-Signature-Timestamp") or ""
    want = base64.b64encode(hmac.new(secret.encode(), stamp.encode() + body,
                                     hashlib.sha256).digest()).decode()
    return bool(stamp) and hmac.compare_digest(want, headers.get("X-Zendesk-Webhook-Signature")
                                               or "")


@dataclass
class Hook:
    headers: Message
    body: bytes
    at: float
    path: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Capture:
    """Records every POST; answers queued (status, headers) first, then 200.

    Deliveries run in parallel and unordered, so a queued answer can be kept for bodies that
    contain `match` (e.g. b"ticket.created").
    """

    hooks: list[Hook] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def answer_next(self, *answers: int | tuple[int, dict[str, str]], match: bytes = b"") -> None:
        with self.lock:
            for a in answers:
                status, headers = a if isinstance(a, tuple) else (a, {})
                self.script.append((status, headers, match))

    def pop_answer(self, body: bytes) -> tuple[int, dict[str, str]]:
        for i, (status, headers, match) in enumerate(self.script):
            if match in body:
                del self.script[i]
                return status, headers
        return 200, {}

    def clear(self) -> None:
        with self.lock:
            self.hooks.clear()
            self.script.clear()

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            bodies = [h.json for h in self.hooks]
        return [b for b in bodies if kind is None or b["type"] == f"zen:event-type:{kind}"]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Hook]:
        wait_until(lambda: len(self.hooks) >= count, timeout, f"{count} webhook(s)")
        with self.lock:
            return list(self.hooks)


def wait_until(check: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _capture_server(capture: Capture) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with capture.lock:
                capture.hooks.append(Hook(self.headers, body, time.time(), self.path))
                status, headers = capture.pop_answer(body)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


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
        hook_server = _capture_server(capture)
        threading.Thread(target=hook_server.serve_forever, daemon=True).start()
        capture.url = f"http://127.0.0.1:{hook_server.server_address[1]}/zendesk"
        cfg = SandboxConfig(zendesk_email=EMAIL, zendesk_api_token=TOKEN,
                            zendesk_oauth_token=OAUTH, zendesk_webhook_url=capture.url,
                            zendesk_webhook_secret=SECRET, production_limits=False)
        app = create_app(cfg)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield Stack(f"http://127.0.0.1:{server.server_port}", app.extensions["sandbox"],
                    capture, api_session())
        server.shutdown()
        hook_server.shutdown()

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
