"""`/_sandbox/...`: the generic control surface tests, benchmarks and the UI drive.

Counters, fault injection, rate-limit buckets, webhook deliveries, webhook config, reset and seed
data, as documented in docs/sandbox-admin.md. Vendor-specific admin routes live with their vendor
(`/_sandbox/zendesk/...`, `/_sandbox/klaviyo/...`). No auth: the sandbox binds to loopback.
Bad input answers 400 `{"error": "bad_request", "description": ...}`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from flask import Blueprint, jsonify, request

from sandbox import seed
from sandbox.common import Window

APIS = ("zendesk", "klaviyo")
CONFIG_FIELDS = ("zendesk_webhook_url", "zendesk_webhook_secret",
                 "klaviyo_webhook_url", "klaviyo_webhook_secret",
                 "klaviyo2_webhook_url", "klaviyo2_webhook_secret")   # the second account (E7)


class BadRequest(Exception):
    pass


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def _windows(raw: Any) -> list[Window]:
    """`[[limit, seconds], ...]` → windows; limits are whole calls, windows positive seconds."""
    if not isinstance(raw, list):
        raise BadRequest("windows must be a list of [limit, seconds] pairs")
    out = []
    for pair in raw:
        ok = isinstance(pair, list | tuple) and len(pair) == 2 and \
            all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
        if not ok or pair[0] < 0 or pair[0] != int(pair[0]) or not (
                pair[1] > 0 and math.isfinite(pair[1])):
            raise BadRequest(f"bad window {pair!r}: want [limit >= 0 (integer), seconds > 0]")
        out.append(Window(int(pair[0]), float(pair[1])))
    return out


def _api(value: Any, what: str) -> str:
    """`value` if it names one of the two vendors, else a 400 naming the parameter `what`."""
    if value not in APIS:
        raise BadRequest(f"{what} must be one of {APIS}")
    return str(value)


def _checked_config(d: dict[str, Any]) -> dict[str, Any]:
    """A config change, checked whole before any field is set: known fields only, webhook URLs
    http(s) or null (null: no deliveries), secrets non-empty strings."""
    unknown = set(d) - set(CONFIG_FIELDS)
    if unknown:
        raise BadRequest(f"unknown config fields {sorted(unknown)}; allowed {CONFIG_FIELDS}")
    for k, v in d.items():
        if k.endswith("_url") and v is not None and not (
                isinstance(v, str) and v.startswith(("http://", "https://"))):
            raise BadRequest(f"{k} must be an http(s) URL or null")
        if k.endswith("_secret") and not (isinstance(v, str) and v):
            raise BadRequest(f"{k} must be a non-empty string")
    return d


def make_blueprint(sb: Any) -> Blueprint:
    bp = Blueprint("admin", __name__, url_prefix="/_sandbox")

    @bp.errorhandler(BadRequest)
    def bad_request(e: BadRequest) -> Any:
        return jsonify({"error": "bad_request", "description": str(e)}), 400

    @bp.get("/calls")
    def calls() -> Any:
        return jsonify(sb.counter.snapshot())

    @bp.post("/calls/reset")
    def calls_reset() -> Any:
        sb.counter.reset()
        return jsonify(sb.counter.snapshot())

    @bp.post("/faults")
    def faults_set() -> Any:
        d = dict(_body())
        api = _api(d.pop("api", None), "api")
        try:
            faults = sb.faults.set(api, **d)
        except (ValueError, TypeError) as e:
            raise BadRequest(str(e)) from None
        return jsonify({"api": api, **dataclasses.asdict(faults)})

    @bp.get("/faults")
    def faults_get() -> Any:
        return jsonify({api: dataclasses.asdict(f) for api, f in sb.faults.by_api.items()})

    @bp.delete("/faults")
    def faults_clear() -> Any:
        api = request.args.get("api")
        if api is not None:
            _api(api, "api")
        sb.faults.clear(api)
        return jsonify({"cleared": api or "all"})

    @bp.get("/limits")
    def limits_get() -> Any:
        return jsonify({"limits": {name: [[w.limit, w.seconds] for w in windows]
                                   for name, windows in sb.limiter.limits.items()}})

    @bp.post("/limits")
    def limits_set() -> Any:
        d = _body()
        bucket = d.get("bucket")
        if not isinstance(bucket, str) or not bucket:
            raise BadRequest("bucket (string) is required")
        windows = _windows(d.get("windows"))
        sb.limiter.set_limits(bucket, windows)
        return jsonify({"bucket": bucket, "windows": [[w.limit, w.seconds] for w in windows]})

    @bp.get("/deliveries")
    def deliveries() -> Any:
        source = request.args.get("source")
        if source is not None:
            _api(source, "source")
        return jsonify({"deliveries": [d.as_json() for d in list(sb.outbox.deliveries)
                                       if source is None or d.source == source]})

    @bp.get("/deliveries/<int:delivery_id>")
    def delivery(delivery_id: int) -> Any:
        d = sb.outbox.get(delivery_id)
        if d is None:
            return jsonify({"error": "not_found", "description": "no such delivery"}), 404
        return jsonify(d.as_json())

    @bp.post("/deliveries/<int:delivery_id>/redeliver")
    def redeliver(delivery_id: int) -> Any:
        """A new delivery with the same body; its signer (if any) signs it afresh."""
        d = sb.outbox.redeliver(delivery_id)
        if d is None:
            return jsonify({"error": "not_found", "description": "no such delivery"}), 404
        return jsonify(d.as_json()), 202

    @bp.get("/config")
    def config_get() -> Any:
        return jsonify({k: getattr(sb.config, k) for k in CONFIG_FIELDS})

    @bp.post("/config")
    def config_set() -> Any:
        d = _checked_config(_body())
        for k, v in d.items():
            setattr(sb.config, k, (v or None) if k.endswith("_url") else v)
        return jsonify({k: getattr(sb.config, k) for k in CONFIG_FIELDS})

    @bp.post("/reset")
    def reset() -> Any:
        sb.reset()
        return jsonify({"reset": True})

    @bp.get("/seed")
    def seed_data() -> Any:
        return jsonify({"profiles": [dataclasses.asdict(p) for p in seed.PROFILES],
                        "agents": [dataclasses.asdict(a) for a in seed.AGENTS],
                        "groups": [{"id": g, "name": n} for g, n in seed.GROUPS],
                        "brand_numbers": [dataclasses.asdict(b) for b in seed.BRAND_NUMBERS],
                        "klaviyo_accounts": [dataclasses.asdict(a) for a in seed.ACCOUNTS]})

    return bp
