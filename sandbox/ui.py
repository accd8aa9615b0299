"""Phone and agent desk pages (placeholder until the UI lands)."""

from __future__ import annotations

from flask import Blueprint


def make_blueprint(sb: object) -> Blueprint:
    return Blueprint("ui", __name__)
