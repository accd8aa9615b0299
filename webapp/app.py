"""Flask app factory for the receiver (and, later, the ops page)."""

from __future__ import annotations

from celery import Celery
from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from bridge import bootstrap
from bridge.observe import setup_logging
from bridge.settings import Settings
from bridge.store import Store
from webapp.receiver import bp as receiver_bp


def create_app(settings: Settings | None = None, store: Store | None = None,
               celery: Celery | None = None) -> Flask:
    settings = settings or Settings.from_env()
    setup_logging()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_webhook_bytes
    if celery is None:
        from workers.celery_app import make_celery
        celery = make_celery(settings)
    app.extensions["zkb.settings"] = settings
    app.extensions["zkb.store"] = store or bootstrap.store(settings)
    app.extensions["zkb.celery"] = celery
    app.register_blueprint(receiver_bp)

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
