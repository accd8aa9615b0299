"""Flask app factory: the receiver, the /ops page and /metrics, in one process type."""

from __future__ import annotations

import logging
import os

from celery import Celery
from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from bridge import bootstrap
from bridge.adapters.logs import ScrubFilter, guard_handlers, secret_values, setup_logging
from bridge.adapters.store import Store
from bridge.brands import brand_secrets, load_brands, settings_and_brands
from bridge.config import Settings
from webapp import ops
from webapp.prometheus import bp as metrics_bp
from webapp.receiver import bp as receiver_bp


def create_app(settings: Settings | None = None, store: Store | None = None,
               celery: Celery | None = None) -> Flask:
    if settings is None:
        settings, brands = settings_and_brands()
    else:
        brands = load_brands(settings, {"BRANDS_FILE": settings.brands_file or ""})
    setup_logging()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_webhook_bytes
    if celery is None:
        from workers.celery_app import make_celery
        celery = make_celery(settings)
    app.extensions["zkb.settings"] = settings
    app.extensions["zkb.brands"] = brands       # E7: the default brand first
    app.extensions["zkb.store"] = store or bootstrap.store(settings)
    app.extensions["zkb.celery"] = celery
    app.register_blueprint(receiver_bp)
    app.register_blueprint(metrics_bp)
    ops.install(app, settings, app.extensions["zkb.store"], celery)
    _guard_logs(app, settings, brand_secrets(brands))

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Response:
        """Every error is JSON naming the problem, including Flask's own 404/405/413."""
        code = e.code or 500
        reason = {413: "too_large", 404: "not_found", 405: "method_not_allowed"}.get(
            code, "bad_request" if code < 500 else "internal_error")
        resp = jsonify({"error": reason, "message": e.description})
        resp.status_code = code
        return resp

    return app


def _guard_logs(app: Flask, settings: Settings, more: list[str]) -> None:
    """Tracebacks and messages logged by Flask and gunicorn pass the PII and secret guard too
    (E5); our own JSON lines are masked as they are written."""
    found = [*secret_values(os.environ), *(s for s in (
        settings.zendesk_api_token, settings.zendesk_oauth_token, settings.zendesk_webhook_secret,
        settings.klaviyo_api_key, settings.klaviyo_webhook_secret, settings.ops_token) if s),
             *more]
    app.logger.addFilter(ScrubFilter(found))
    for name in ("gunicorn.error", "gunicorn.access"):
        guard_handlers(logging.getLogger(name), found)
