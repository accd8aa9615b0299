"""The tests' webhook capture server: a small HTTP server on a loopback port that records every
POST the sandbox delivers (path, headers, raw body, arrival time) and answers it.

Answers are 200 unless some were queued with `answer_next` (a status, or a status and headers),
optionally kept for the first delivery whose body contains `match`: deliveries run in
parallel and unordered, so a test can aim an answer at, say, b"ticket.created".
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WAIT = 5.0


@dataclass
class Hook:
    """One delivery as it reached the capture server."""

    path: str
    headers: Message
    body: bytes
    at: float = 0.0

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Answer = int | tuple[int, dict[str, str]]


class CaptureServer:
    """Serving from construction on `url` (`http://127.0.0.1:<port>` + `path`); `close()`
    stops it. `hooks` is every delivery so far, in arrival order; the waits give up after
    `wait` seconds unless told otherwise."""

    def __init__(self, path: str = "", wait: float = WAIT) -> None:
        self.wait = wait
        self.hooks: list[Hook] = []
        self.cond = threading.Condition()
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True,
                         name="webhook-capture").start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers = capture.record(Hook(self.path, self.headers, body, time.time()))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def record(self, hook: Hook) -> tuple[int, dict[str, str]]:
        """Keep a delivery and pick its answer: the first queued one it matches, else 200."""
        with self.cond:
            self.hooks.append(hook)
            self.cond.notify_all()
            for i, (status, headers, match) in enumerate(self.script):
                if match in hook.body:
                    del self.script[i]
                    return status, headers
            return 200, {}

    def answer_next(self, *answers: Answer, match: bytes = b"") -> None:
        """Queue answers (a status, or a status and headers) for the next matching deliveries."""
        with self.cond:
            for a in answers:
                status, headers = a if isinstance(a, tuple) else (a, {})
                self.script.append((status, headers, match))

    def clear(self) -> None:
        with self.cond:
            self.hooks.clear()
            self.script.clear()

    def _wait(self, found: Callable[[], Any], timeout: float | None,
              failure: Callable[[float], str]) -> Any:
        """Under the lock: wait until `found()` gives something other than None; return it."""
        timeout = self.wait if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self.cond:
            while (result := found()) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(failure(timeout))
                self.cond.wait(left)
            return result

    def wait_for(self, count: int = 1, timeout: float | None = None) -> list[Hook]:
        """Every hook so far, once there are at least `count`."""
        return self._wait(lambda: list(self.hooks) if len(self.hooks) >= count else None,
                          timeout, lambda t: f"timed out after {t}s waiting for {count} "
                                             f"webhook(s); got {len(self.hooks)}")

    def first(self, count: int = 1, timeout: float | None = None) -> list[Hook]:
        """The first `count` hooks, waiting for them to arrive."""
        return self._wait(lambda: self.hooks[:count] if len(self.hooks) >= count else None,
                          timeout, lambda t: f"expected {count} webhooks within {t}s, got "
                                             f"{len(self.hooks)}")

    def wait_match(self, what: str, match: Callable[[Hook], bool],
                   timeout: float | None = None) -> Hook:
        """The first hook `match` accepts, waiting for it to arrive."""
        return self._wait(lambda: next((h for h in self.hooks if match(h)), None), timeout,
                          lambda t: f"no webhook {what} within {t}s; got "
                                    f"{[h.body[:200] for h in self.hooks]}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
