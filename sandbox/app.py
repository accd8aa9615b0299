"""The sandbox server: one Flask app imitating Zendesk (/api/v2/...) and Klaviyo (/api/...).

Vendor behaviour lives in the `zendesk/` and `klaviyo/` packages (each an `api` blueprint plus
its in-memory `state`); `admin.py` is the test/benchmark control surface under `/_sandbox/...`;
`ui.py` is the phone and agent desk. This module only wires them together around one `Sandbox`
object.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from flask import Flask

from sandbox import seed
from sandbox.common import CallCounter, FaultBoard, Faults, Outbox, RateLimiter
from sandbox.config import SandboxConfig


@dataclass
class Gate:
    """What happens to one API call before the vendor logic runs.

    kind: None (go on), "429" (rate limited or forced), "409", "error" (5xx), "timeout".
    `limit`/`remaining` feed the vendors' rate-limit headers; `retry_after` is in seconds.
    `late` > 0 (kind None): carry the call out, then wait `late` seconds and answer 504
    instead of the real answer (`Sandbox.late_timeout`).
    """

    kind: str | None
    retry_after: float | None = None
    limit: int = 0
    remaining: int = 0
    bucket: str | None = None
    late: float = 0.0


class Sandbox:
    """All sandbox state. `lock` serialises both vendors' state changes (requests are threaded)."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        from sandbox.klaviyo import api as klaviyo  # late: they import Gate from here
        from sandbox.zendesk import api as zendesk
        from sandbox.zendesk import oauth

        self.config = config or SandboxConfig()
        self.lock = threading.RLock()
        self.counter = CallCounter()
        self.limiter = RateLimiter()
        self.faults = FaultBoard()
        self.outbox = Outbox()
        self.zendesk = zendesk.ZendeskState(self)
        self.zendesk_oauth = oauth.OAuthIssuer(self.config.zendesk_oauth_client_id,
                                               self.config.zendesk_oauth_client_secret,
                                               self.config.zendesk_oauth_token_seconds)
        self.klaviyo = klaviyo.KlaviyoState(self)     # the first (default) Klaviyo account
        # every Klaviyo account (rule E7): the first, then a second shop (seed.BOLT)
        self.klaviyo_accounts = (self.klaviyo, klaviyo.KlaviyoState(self, seed.BOLT))
        self.reset()

    def reset(self) -> None:
        """Back to seed data, default limits, no faults, no counted calls or deliveries."""
        from sandbox.klaviyo import api as klaviyo
        from sandbox.zendesk import api as zendesk

        with self.lock:
            self.counter.reset()
            self.faults.clear()
            self.outbox.reset()
            self.limiter = RateLimiter()
            zendesk.install_default_limits(self.limiter, self.config.production_limits)
            klaviyo.install_default_limits(self.limiter, self.config.production_limits)
            self.zendesk.reset()
            for account in self.klaviyo_accounts:
                account.reset()

    def gate(self, api: str, endpoint_key: str, buckets: list[str]) -> Gate:
        """Count the call, apply injected faults and latency, then the rate-limit buckets in order.

        Forced faults come first (tests ask for "the next N calls"), then real limits. The first
        exhausted bucket answers 429; a refused call consumes nothing from later buckets.
        """
        self.counter.count(f"{api} {endpoint_key}")
        kind, f = self.faults.draw(api, endpoint_key)
        if f.latency_ms:
            time.sleep(f.latency_ms / 1000)
        if kind == "timeout":
            time.sleep(f.timeout_seconds)
            return Gate("timeout")
        if kind == "429":
            self.counter.count_429(api)
            return Gate("429", retry_after=f.retry_after)
        if kind in ("409", "error"):
            return Gate(kind)
        late = f.timeout_seconds if kind == "applied_timeout" else 0.0
        last = Gate(None, late=late)
        for name in buckets:
            wait, limit, remaining = self.limiter.check(name)
            if wait is not None:
                self.counter.count_429(api)
                return Gate("429", retry_after=wait, limit=limit, remaining=0, bucket=name)
            if last.bucket is None or remaining < last.remaining:
                last = Gate(None, limit=limit, remaining=remaining, bucket=name, late=late)
        return last

    @staticmethod
    def late_timeout(gate: Gate) -> bool:
        """For an "applied_timeout" call, after the vendor logic ran (outside the state lock):
        hold the answer for the timeout, then tell the caller to answer 504 instead."""
        if gate.late <= 0:
            return False
        time.sleep(gate.late)
        return True


def create_app(config: SandboxConfig | None = None) -> Flask:
    from sandbox import admin, ui
    from sandbox.klaviyo import api as klaviyo
    from sandbox.zendesk import api as zendesk

    app = Flask(__name__)
    sb = Sandbox(config)
    app.extensions["sandbox"] = sb
    app.register_blueprint(zendesk.make_blueprint(sb))
    app.register_blueprint(klaviyo.make_blueprint(sb))
    app.register_blueprint(admin.make_blueprint(sb))
    app.register_blueprint(ui.make_blueprint(sb))
    return app


__all__ = ["Faults", "Gate", "Sandbox", "create_app"]
