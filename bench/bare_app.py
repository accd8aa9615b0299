"""The ingest floor: a bare Flask app whose webhook view does one Redis LPUSH of the raw body and
answers 202. No signature check, no parsing, no event record, no Celery publish. `bench/ingest.py`
runs it under the Procfile's gunicorn settings, next to the real receiver."""

from __future__ import annotations

import os

import redis
from flask import Flask, Response, jsonify, request

KEY = "bench:bare"


def create_app() -> Flask:
    app = Flask(__name__)
    r = redis.Redis.from_url(os.environ["REDIS_URL"])

    @app.post("/webhooks/klaviyo")
    def receive() -> tuple[Response, int]:
        r.lpush(KEY, request.get_data(cache=False))
        return jsonify({"accepted": 1}), 202

    @app.get("/readyz")
    def readyz() -> Response:
        return jsonify({"status": "ready"})

    return app


app = create_app()
